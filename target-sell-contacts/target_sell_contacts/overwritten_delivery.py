"""S5.2 for the other direction: values that lost a conflict in target-exchange, kept in Sell.

target-exchange has no Sell access, so it queues every losing value in the ledger
(``Ledger.pending_overwritten``). This run appends them to the record's
``overwritten_values_field`` (one ``PUT`` per record, merged with the field's value as read just
before) or, without that field, to a note; then marks them delivered. A crash between the write and
the mark sends them again: ``append_overwritten`` and the note check below skip lines already kept,
so delivery is at-least-once without duplicate lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from contact_mapping.ledger import Ledger, OverwrittenValue
from contact_mapping.merge import Overwritten, append_overwritten
from contact_mapping.report import RunReport

from target_sell_contacts.notes import add_note, kept_lines
from target_sell_contacts.preflight import AccountFields
from target_sell_contacts.sell_client import RejectedError, SellClient

PATHS = {"contact": "contacts", "lead": "leads"}
#: Records read per ``GET ?ids=`` right before their ``PUT``s: small, so text typed in Sell
#: between our read and our write has about a second to slip in, not a whole page's worth.
READ_CHUNK = 10


@dataclass
class SellRunReport(RunReport):
    """The S12 report plus the queued losing values this run kept in Sell."""

    overwritten_delivered: list[dict[str, Any]] = field(default_factory=list)

    def delivered(self, row: OverwrittenValue, kept_in: str) -> None:
        with self._lock:
            self.overwritten_delivered.append(
                {
                    "sell": row.sell_ref,
                    "exchange_id": row.exchange_id,
                    "field": row.field,
                    "value": row.value,
                    "origin": row.origin,
                    "origin_time": row.origin_time,
                    "kept_in": kept_in,
                }
            )

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        with self._lock:
            data["overwritten_delivered"] = list(self.overwritten_delivered)
        return data

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        with self._lock:
            rows = list(self.overwritten_delivered)
        lines.extend(
            f"  kept in Sell {r['sell']} ({r['kept_in']}) {r['field']}: {r['value']!r} "
            f"(lost in Exchange, from {r['origin']})"
            for r in rows
        )
        return lines


def deliver_overwritten(
    client: SellClient,
    ledger: Ledger,
    fields: AccountFields,
    report: SellRunReport,
    logger: logging.Logger,
) -> int:
    """Keep every pending queued value in Sell; returns how many rows were marked delivered."""
    pending = ledger.pending_overwritten()
    if not pending:
        return 0
    by_record: dict[tuple[str, int], list[OverwrittenValue]] = {}
    for row in pending:  # oldest first, so each record's lines keep their order
        by_record.setdefault((row.sell_kind, row.sell_id), []).append(row)
    done = 0
    for kind, ids in _chunks(by_record):
        current = client.by_ids(PATHS[kind], ids)
        for sell_id in ids:
            rows = by_record[(kind, sell_id)]
            record = current.get(sell_id)
            if record is None:
                logger.info(
                    "Sell %s %s no longer exists: %d value(s) that lost a conflict in Exchange "
                    "have nothing to be kept on; marked delivered",
                    kind,
                    sell_id,
                    len(rows),
                )
                kept_in = "nothing (record gone)"
            else:
                kept_in = _keep(client, fields, kind, record, [r.as_overwritten() for r in rows])
            done += ledger.mark_overwritten_delivered([r.id for r in rows if r.id is not None])
            for row in rows:
                report.delivered(row, kept_in)
    logger.info("kept %d value(s) that lost a conflict in Exchange in Sell", done)
    return done


def _keep(
    client: SellClient,
    fields: AccountFields,
    kind: str,
    record: dict[str, Any],
    entries: list[Overwritten],
) -> str:
    """Append to the custom field (one ``PUT``) or a note; returns where they were kept."""
    sell_id = int(record["id"])
    field_name = fields.overwritten.get(kind)
    if field_name:
        existing = (record.get("custom_fields") or {}).get(field_name)
        text = append_overwritten(existing, entries)
        if text == (existing or ""):
            return field_name  # every line already there (delivered before a crash)
        try:
            client.update(PATHS[kind], sell_id, {"custom_fields": {field_name: text}})
            return field_name
        except RejectedError as exc:
            logging.getLogger(__name__).warning(
                "Sell refused the %r field of %s %s (%s); keeping the values in a note",
                field_name,
                kind,
                sell_id,
                exc.reason(),
            )
    seen = kept_lines(client, kind, sell_id)
    fresh = [e for e in entries if e.line() not in seen]
    if fresh:
        add_note(client, kind, sell_id, fresh)
    return "note"


def _chunks(
    by_record: dict[tuple[str, int], list[OverwrittenValue]],
) -> Iterator[tuple[str, Sequence[int]]]:
    for kind in PATHS:
        ids = [sell_id for k, sell_id in by_record if k == kind]
        for start in range(0, len(ids), READ_CHUNK):
            yield kind, ids[start : start + READ_CHUNK]
