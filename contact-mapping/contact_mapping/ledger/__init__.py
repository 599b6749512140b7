"""The sync ledger (``contact_mapping.ledger``): the facade ``Ledger`` and the records it hands
out. ``store`` is the facade; each table's SQL has a module of its own; ``migrate`` and
``migrations/`` keep the schema (Alembic); ``testing`` holds what only tests call."""

from contact_mapping.ledger.models import (
    DIRECTIONS,
    Adopted,
    Intent,
    IntentOutcome,
    LedgerError,
    Link,
    LinkConflictError,
    Move,
    NewIntent,
    OverwrittenValue,
    Rejection,
    Run,
    SchemaTooNewError,
    Snapshot,
    StaleLinkError,
    TenantBusyError,
    UnknownLinkError,
)
from contact_mapping.ledger.store import DEFAULT_LEDGER_URL, Ledger

__all__ = [
    "DEFAULT_LEDGER_URL",
    "DIRECTIONS",
    "Adopted",
    "Intent",
    "IntentOutcome",
    "Ledger",
    "LedgerError",
    "Link",
    "LinkConflictError",
    "Move",
    "NewIntent",
    "OverwrittenValue",
    "Rejection",
    "Run",
    "SchemaTooNewError",
    "Snapshot",
    "StaleLinkError",
    "TenantBusyError",
    "UnknownLinkError",
]
