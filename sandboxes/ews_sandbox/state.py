"""What the running sandbox holds: its mailboxes, credentials, counters and fault settings.

``cli.py`` builds it from the command line and ``server.build_app`` serves it, so neither the
server nor an operation ever sees ``argparse``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox_common import FaultInjector, RequestStats

from ews_sandbox.ntlm import NtlmAuthenticator
from ews_sandbox.store import Mailbox

#: Kinds of injected faults drawn by ``--fault-rate`` (``--fault-kinds`` picks a subset).
FAULT_KINDS = ("server_busy", "http_503", "drop_before", "drop_after", "slow")
#: Password schemes for ``--mailbox``; Bearer comes with ``--oauth-token`` whatever ``--auth`` says.
AUTH_SCHEMES = ("basic", "ntlm")


@dataclass
class SandboxState:
    mailboxes: dict[str, Mailbox]  # lower-cased address -> mailbox
    tokens: dict[str, Mailbox]  # OAuth bearer token -> mailbox
    stats: RequestStats
    faults: FaultInjector
    backoff_ms: int = 500
    slow_ms: int = 1500
    basic: bool = True
    ntlm: NtlmAuthenticator | None = None
    record_dir: Path | None = None
    tags: set[bytes] = field(default_factory=set)
    # exchange-sandbox's hook for app-only bearer tokens (graph_sandbox.ews_bearer): given a bearer
    # token that is no --oauth-token and the request envelope, the impersonated mailbox, None for
    # an invalid token (401), or a SoapFaultError.
    app_bearer: Callable[[str, Any], Mailbox | None] | None = None
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def record(self, operation: str, payload: bytes) -> None:
        """Keep every SOAP answer for the tests' schema validation (``--record-responses``)."""
        if self.record_dir is not None:
            path = self.record_dir / f"{next(self._counter):07d}-{operation}.xml"
            path.write_bytes(payload)
