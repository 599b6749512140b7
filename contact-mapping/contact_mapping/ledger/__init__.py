"""The sync ledger (``contact_mapping.ledger``): see ``store.Ledger`` and the package README."""

from contact_mapping.ledger.models import (
    DIRECTIONS,
    Adopted,
    Intent,
    IntentOutcome,
    LedgerError,
    Link,
    LinkConflictError,
    NewIntent,
    OverwrittenValue,
    Rejection,
    Run,
    Snapshot,
    StaleLinkError,
    UnknownLinkError,
)
from contact_mapping.ledger.schema import SCHEMA_VERSION
from contact_mapping.ledger.store import DEFAULT_LEDGER_URL, Ledger

__all__ = [
    "DEFAULT_LEDGER_URL",
    "DIRECTIONS",
    "SCHEMA_VERSION",
    "Adopted",
    "Intent",
    "IntentOutcome",
    "Ledger",
    "LedgerError",
    "Link",
    "LinkConflictError",
    "NewIntent",
    "OverwrittenValue",
    "Rejection",
    "Run",
    "Snapshot",
    "StaleLinkError",
    "UnknownLinkError",
]
