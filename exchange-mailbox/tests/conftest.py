"""Each test starts with no TLS policy registered by an earlier one (they are per process:
a CA bundle registered for a sandbox long gone, or for every URL by autodiscover, would
otherwise decide how a later test's server is verified)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchange_mailbox.ews import transport


@pytest.fixture(autouse=True)
def _fresh_tls_policies() -> Iterator[None]:
    yield
    transport.forget_all()
