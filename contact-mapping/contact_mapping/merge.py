"""Three-way, field-level merge of a linked pair (SPEC S5) and the base-update rule.

Base update rule: after a target wrote the merged values M to its destination, the new base is
the *source* side's current values and the destination snapshot is M. The next run in the other
direction then sees exactly the fields where the source lost or lagged as changed on the other
side and carries them over, while a conflict is never decided twice (S7.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, Values, field_key, project
from contact_mapping.normalize import to_utc

Side = Literal["exchange", "sell"]
_OLDEST = datetime.min.replace(tzinfo=UTC)


class Decision(StrEnum):
    UNCHANGED = "unchanged"
    EXCHANGE_CHANGED = "exchange_changed"
    SELL_CHANGED = "sell_changed"
    BOTH_SAME = "both_same"
    CONFLICT_EXCHANGE_WON = "conflict_exchange_won"
    CONFLICT_SELL_WON = "conflict_sell_won"
    FIRST_LINK_FILL = "first_link_fill"


@dataclass(frozen=True)
class Overwritten:
    """A value that lost a conflict (S5.2): kept in Sell so nothing is silently lost."""

    field: str
    value: str | None
    origin: Side
    time: datetime | None

    def line(self) -> str:
        when = self.time.strftime("%Y-%m-%dT%H:%M:%SZ") if self.time else "unknown time"
        shown = json.dumps(self.value, ensure_ascii=False) if self.value is not None else "(blank)"
        return f"{when} {self.origin} {self.field}: {shown}"

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "origin": self.origin,
            "time": self.time.isoformat() if self.time else None,
        }


@dataclass(frozen=True)
class MergeResult:
    values: dict[str, str | None]
    decisions: dict[str, Decision]
    overwritten: tuple[Overwritten, ...]

    @property
    def conflicts(self) -> dict[str, Decision]:
        won = {Decision.CONFLICT_EXCHANGE_WON, Decision.CONFLICT_SELL_WON}
        return {f: d for f, d in self.decisions.items() if d in won}

    def changed_for(self, current: Canonical) -> tuple[str, ...]:
        """Fields to write to the side whose current state is ``current`` (its unmapped skipped)."""
        return changed_fields(self.values, current)

    def merged(self, like: Canonical) -> Canonical:
        """``like`` (the destination's current form) carrying the merged values."""
        return like.with_values(self.values)


def changed_fields(values: Values, current: Canonical) -> tuple[str, ...]:
    """Mapped fields where ``values`` differ from ``current``, in MAPPED_FIELDS order."""
    return tuple(
        f
        for f in MAPPED_FIELDS
        if f not in current.unmapped
        and field_key(f, values.get(f)) != field_key(f, getattr(current, f))
    )


def _base_values(base: Values | Canonical | None) -> Mapping[str, str | None] | None:
    if base is None:
        return None
    if isinstance(base, Canonical):
        return base.values()
    return base


def merge(  # noqa: PLR0917 - the positional order is the documented API
    base: Values | Canonical | None,
    exchange: Canonical,
    sell: Canonical,
    exchange_modified: Any = None,
    sell_modified: Any = None,
    first_link: bool = False,
) -> MergeResult:
    """Merge field by field against ``base`` (the values of the last sync).

    A field one side has no counterpart for (in its ``unmapped``) takes the other side's value
    and is never a conflict (S5.4). Conflicts go to the more recently modified side; on an exact
    tie (or two unknown times) Sell wins, which keeps the losing Exchange value in Sell's log.
    ``first_link`` (or a None base) applies S5.3: a blank never overwrites a filled value.
    """
    x_time = to_utc(exchange_modified)
    s_time = to_utc(sell_modified)
    exchange_wins = (x_time or _OLDEST) > (s_time or _OLDEST)
    base_values = None if first_link else _base_values(base)
    values: dict[str, str | None] = {}
    decisions: dict[str, Decision] = {}
    overwritten: list[Overwritten] = []
    for f in MAPPED_FIELDS:
        x, s = getattr(exchange, f), getattr(sell, f)
        if f in sell.unmapped or f in exchange.unmapped:
            values[f] = s if f in exchange.unmapped and f not in sell.unmapped else x
            decisions[f] = Decision.UNCHANGED
            continue
        kx, ks = field_key(f, x), field_key(f, s)
        if base_values is None:
            if kx == ks:
                values[f], decisions[f] = x, Decision.UNCHANGED
            elif ks is None:
                values[f], decisions[f] = x, Decision.FIRST_LINK_FILL
            elif kx is None:
                values[f], decisions[f] = s, Decision.FIRST_LINK_FILL
            else:
                values[f], decisions[f] = _conflict(
                    f, x, s, x_time, s_time, exchange_wins, overwritten
                )
            continue
        b = base_values.get(f)
        kb = field_key(f, b)
        if kx == ks:
            # Same value (maybe formatted differently): keep the formatting that moved off base.
            values[f] = s if (x == b and s != b) else x
            decisions[f] = Decision.UNCHANGED if kx == kb else Decision.BOTH_SAME
        elif kx == kb:
            values[f], decisions[f] = s, Decision.SELL_CHANGED
        elif ks == kb:
            values[f], decisions[f] = x, Decision.EXCHANGE_CHANGED
        else:
            values[f], decisions[f] = _conflict(f, x, s, x_time, s_time, exchange_wins, overwritten)
    return MergeResult(values, decisions, tuple(overwritten))


def _conflict(  # noqa: PLR0917 - private helper of the loop above
    f: str,
    x: str | None,
    s: str | None,
    x_time: datetime | None,
    s_time: datetime | None,
    exchange_wins: bool,
    overwritten: list[Overwritten],
) -> tuple[str | None, Decision]:
    if exchange_wins:
        overwritten.append(Overwritten(f, s, "sell", s_time))
        return x, Decision.CONFLICT_EXCHANGE_WON
    overwritten.append(Overwritten(f, x, "exchange", x_time))
    return s, Decision.CONFLICT_SELL_WON


@dataclass(frozen=True)
class SnapshotValues:
    """What the ledger stores for a link after a write (values in ledger form)."""

    base: dict[str, str | None]
    exchange_values: dict[str, str | None]
    sell_values: dict[str, str | None]


def next_base(source: Canonical, merged: Values) -> dict[str, str | None]:
    """The new base after a write: the source's values; where the source has no counterpart
    for a field, the merged value (so that field never looks changed on the other side)."""
    return {
        f: (merged.get(f) if f in source.unmapped else getattr(source, f)) for f in MAPPED_FIELDS
    }


def next_snapshot(
    source_side: Side, source: Canonical, destination: Canonical, merged: Values
) -> SnapshotValues:
    """Ledger values once the target wrote ``merged`` to ``destination``.

    base = source values (see :func:`next_base`); source snapshot = source values; destination
    snapshot = merged values as the destination holds them (its unmapped fields blank), which
    is exactly what its next record will fingerprint to.
    """
    base = next_base(source, merged)
    src = source.values()
    dst = project(merged, destination.unmapped)
    if source_side == "exchange":
        return SnapshotValues(base=base, exchange_values=src, sell_values=dst)
    if source_side == "sell":
        return SnapshotValues(base=base, exchange_values=dst, sell_values=src)
    msg = f"unknown side {source_side!r}"
    raise ValueError(msg)


def format_overwritten(entries: Iterable[Overwritten]) -> str:
    """One line per losing value with time and origin, for the Sell custom field or note."""
    return "\n".join(e.line() for e in entries)


def append_overwritten(existing: str | None, entries: Iterable[Overwritten]) -> str:
    """``existing`` text with the new lines appended; lines already there are not repeated,
    so a re-run after a crash does not log the same loss twice."""
    lines = [line for line in (existing or "").split("\n") if line]
    seen = set(lines)
    for entry in entries:
        line = entry.line()
        if line not in seen:
            lines.append(line)
            seen.add(line)
    return "\n".join(lines)
