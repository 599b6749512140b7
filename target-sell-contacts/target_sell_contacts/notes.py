"""S5.2 fallback: values lost in a conflict go to a note on the Sell record."""

from __future__ import annotations

from collections.abc import Iterable

from contact_mapping.merge import Overwritten, format_overwritten

from target_sell_contacts.sell_client import AmbiguousWriteError, SellClient, TransientError

HEADING = "Overwritten by the Exchange contact sync (time, origin, field: value):"
ATTEMPTS = 3


def note_text(entries: Iterable[Overwritten]) -> str:
    return f"{HEADING}\n{format_overwritten(entries)}"


def add_note(client: SellClient, kind: str, record_id: int, entries: Iterable[Overwritten]) -> None:
    """Create the note once: after an unclear outcome look for it before trying again."""
    content = note_text(list(entries))
    data = {"resource_type": kind, "resource_id": record_id, "content": content}
    for _attempt in range(ATTEMPTS):
        try:
            client.create("notes", data)
            return
        except AmbiguousWriteError:
            if _exists(client, kind, record_id, content):
                return
    if not _exists(client, kind, record_id, content):
        msg = f"could not add the overwritten-values note to Sell {kind} {record_id}"
        raise TransientError(msg)


def _exists(client: SellClient, kind: str, record_id: int, content: str) -> bool:
    notes = client.iter_all("notes", {"resource_type": kind, "resource_id": record_id})
    return any(n.get("content") == content for n in notes)


def kept_lines(client: SellClient, kind: str, record_id: int) -> set[str]:
    """Every line of the record's notes: a value delivered before a crash is not noted twice."""
    notes = client.iter_all("notes", {"resource_type": kind, "resource_id": record_id})
    return {line for n in notes for line in str(n.get("content") or "").split("\n") if line}
