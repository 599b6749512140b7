"""The one sync engine both targets run (plan → write → record), and the port a destination
implements. See ``engine`` for the rules in the order they apply."""

from contact_mapping.sync.engine import SyncEngine, SyncFailedError, parse_sell_ref, sell_ref
from contact_mapping.sync.port import Current, Destination, Found, Incoming, Outcome, Write

__all__ = [
    "Current",
    "Destination",
    "Found",
    "Incoming",
    "Outcome",
    "SyncEngine",
    "SyncFailedError",
    "Write",
    "parse_sell_ref",
    "sell_ref",
]
