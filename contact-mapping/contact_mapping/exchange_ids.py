"""Which Exchange protocol an Exchange item id belongs to (SPEC S13.2).

The same contact has one id over EWS and another over Microsoft Graph, and neither can be
translated app-only. ``exchange_mailbox`` hands out Graph ids as ``graph:`` + Graph's id and EWS
ids as EWS gives them (``exchange_mailbox.interface.id_protocol``; the two definitions are
checked equal by ``tests/test_exchange_ids.py``), so an id kept in the ledger says which protocol
it came from. Contact-mapping keeps its own copy: it does not depend on exchange-mailbox.
"""

from __future__ import annotations

GRAPH_PREFIX = "graph:"
PROTOCOLS = ("ews", "graph")


def exchange_protocol(exchange_id: str) -> str:
    """``"graph"`` or ``"ews"``."""
    return "graph" if exchange_id.startswith(GRAPH_PREFIX) else "ews"
