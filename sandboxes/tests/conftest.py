"""The Graph conformance modules' sandbox: one exchange-sandbox per module, every answer checked
against the schemas when the module ends, and exchangelib's view of the same store.

A module names what its sandbox is started with (``ARGS``) and the mailbox its EWS view logs into
(``USER``, ``PASSWORD``); modules with a ``sandbox`` fixture of their own are not affected.
"""

from __future__ import annotations

from collections.abc import Iterator

import exchangelib
import pytest
from ews_sandbox.testing import account
from graph_sandbox.testing import schema_missing_reason, validated_exchange_sandbox
from sandbox_common.process import SandboxProcess


@pytest.fixture(scope="module")
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxProcess]:
    reason = schema_missing_reason()
    if reason:
        pytest.skip(reason)
    try:
        with validated_exchange_sandbox(request.module.ARGS) as started:
            yield started
    finally:
        exchangelib.close_connections()


@pytest.fixture
def ews(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[exchangelib.Account]:
    """The mailbox as an EWS client (Outlook) sees it, over the sandbox's TLS."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.cafile)
    yield account(sandbox, request.module.USER, request.module.PASSWORD)
    exchangelib.close_connections()
