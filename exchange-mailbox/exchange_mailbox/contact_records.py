"""What both implementations share about ``contacts`` records: deletion records.

The record's full shape is ``ews.records`` (its schema and the EWS mapping);
``graph.contact_json`` yields the same keys over Graph.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

DELETED_AT = "_sdc_deleted_at"


def iso_utc(value: dt.datetime) -> str:
    """UTC ISO 8601 with ``Z``."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def deletion_record(item_id: str, *, folder_id: str, deleted_at: dt.datetime) -> dict[str, Any]:
    """What the tap emits for a contact deleted (or moved away) since the last run."""
    return {"id": item_id, "folder_id": folder_id, DELETED_AT: iso_utc(deleted_at)}


def is_deletion(record: Mapping[str, Any]) -> bool:
    return record.get(DELETED_AT) is not None
