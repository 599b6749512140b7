"""Sell as the sync engine's destination (``contact_mapping.sync.Destination``).

Everything here is Sell I/O: reading records by id, finding match candidates, building PUT/POST
payloads (organisation by ``contact_id``, the ``exchange_id_field`` marker, kept values in the
``overwritten_values_field`` or a note), and sending them on ``max_in_flight`` threads. What to
write, when, and what the ledger remembers is the engine's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.ledger import Move
from contact_mapping.matching import Candidate, MatchIndex
from contact_mapping.merge import append_overwritten
from contact_mapping.sell_map import (
    conversion_move,
    from_sell_contact,
    from_sell_lead,
    sell_company_change,
    to_sell_contact_payload,
    to_sell_lead_payload,
)
from contact_mapping.sync import (
    Current,
    Destination,
    Found,
    Incoming,
    Outcome,
    Write,
    parse_sell_ref,
    sell_ref,
)

from target_sell_contacts.companies import Companies
from target_sell_contacts.notes import add_note
from target_sell_contacts.preflight import AccountFields
from target_sell_contacts.sell_client import AmbiguousWriteError, RejectedError, SellClient

PATHS = {"contact": "contacts", "lead": "leads"}
#: Up to this many unlinked records in a batch are matched by filtered look-ups (≈1-3 requests
#: each); more than that and paging every contact once (100 per request) is cheaper.
LOOKUP_MAX = 3


class SellDestination(Destination):
    """Sell contacts and leads of one account, written through ``SellClient``."""

    side = "sell"
    keeps_overwritten = True  # in the PUT that loses them (custom field) or a note (S5.2)
    create_rounds = 3

    def __init__(
        self,
        client: SellClient,
        companies: Companies,
        fields: AccountFields,
        *,
        region: str,
        max_in_flight: int,
        logger: logging.Logger,
    ) -> None:
        self.client = client
        self.companies = companies
        self.fields = fields
        self.region = region
        self.max_in_flight = max_in_flight
        self.logger = logger
        self._index: MatchIndex | None = None
        self._index_by_exchange_id: dict[str, int] = {}
        self._index_records: dict[int, bytes] = {}  # unlinked Sell contacts, as compact JSON

    # -- reads -----------------------------------------------------------------------------------
    def current(self, kind: str, record: Mapping[str, Any]) -> Current:
        """A Sell record in the engine's form (organisation named by the ledger's cache)."""
        if kind == "lead":
            canonical = from_sell_lead(record, self.region)
        else:
            names = self.companies.names([record.get("contact_id")])
            canonical = from_sell_contact(record, names, self.region)
        stamp = record.get("updated_at")
        return Current(sell_ref(kind, int(record["id"])), canonical, stamp, stamp, raw=record)

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        ids: dict[str, list[int]] = {"contact": [], "lead": []}
        for key in keys:
            kind, ident = parse_sell_ref(key)
            ids[kind].append(ident)
        found = {kind: self.client.by_ids(PATHS[kind], ids[kind]) for kind in ids if ids[kind]}
        self.companies.names(r.get("contact_id") for r in found.get("contact", {}).values())
        return {
            sell_ref(kind, ident): self.current(kind, record)
            for kind, records in found.items()
            for ident, record in records.items()
        }

    # -- matching (S4) ---------------------------------------------------------------------------
    def match(
        self, items: Sequence[Incoming], linked: Callable[[Collection[str]], set[str]]
    ) -> dict[str, Found]:
        if self._index is None and len(items) > LOOKUP_MAX:
            self._build_index(linked)
        out: dict[str, Found] = {}
        for inc in items:
            found = (
                self._match_in_index(inc) if self._index is not None else self._lookup(inc, linked)
            )
            if found is not None:
                out[inc.key] = found
        return out

    def _build_index(self, linked: Callable[[Collection[str]], set[str]]) -> None:
        """Page through every Sell contact once, keeping the unlinked ones for matching.

        A page at a time, and each kept record as compact JSON (a fifth of the memory of the
        parsed dict): only the few that match are parsed again. Matching keys need no company
        name, so the canonical form is made without the organisation look-up.
        """
        index = MatchIndex()
        id_field = self.fields.exchange_id.get("contact")
        seen = 0
        organisations: list[dict[str, Any]] = []  # id and name only; told to the ledger once
        for records in self.client.iter_pages("contacts", {"sort_by": "id"}):
            seen += len(records)
            organisations += (
                {"id": r["id"], "name": r.get("name")} for r in records if r.get("is_organization")
            )
            taken = linked([sell_ref("contact", int(r["id"])) for r in records])
            for record in records:
                ident = int(record["id"])
                if sell_ref("contact", ident) in taken:
                    continue
                canon = from_sell_contact(record, None, self.region)
                index.add(Candidate(ident, canon, record.get("updated_at")))
                self._index_records[ident] = json.dumps(record, separators=(",", ":")).encode()
                own = (record.get("custom_fields") or {}).get(id_field) if id_field else None
                if own:
                    self._index_by_exchange_id[str(own)] = ident
        self.companies.seed(organisations, complete=True)
        self._index = index
        self.logger.info("indexed %d Sell contacts (%d unlinked) for matching", seen, len(index))

    def _indexed(self, ident: int) -> Current:
        record = json.loads(self._index_records.pop(ident))
        return self.current("contact", record)

    def _match_in_index(self, inc: Incoming) -> Found | None:
        assert self._index is not None
        own = self._index_by_exchange_id.get(inc.key)
        if own is not None and not self._index.is_claimed(own):
            self._index.claim(own)
            return Found(sell_ref("contact", own), {"matched_id": str(own), "rule": "exchange_id"},
                         self._indexed(own))  # fmt: skip
        found = self._index.match(inc.canonical)
        if found is None:
            return None
        ident = int(found.candidate.id)
        return Found(sell_ref("contact", ident), found.log_details(), self._indexed(ident))

    def _lookup(self, inc: Incoming, linked: Callable[[Collection[str]], set[str]]) -> Found | None:
        canon = inc.canonical
        id_field = self.fields.exchange_id.get("contact")
        if id_field:  # a Sell contact already carrying this exact Exchange id wins first
            own = self._find_by_exchange_id(id_field, inc.key, linked)
            if own is not None:
                rule = {"matched_id": str(own["id"]), "rule": "exchange_id"}
                return Found(
                    sell_ref("contact", int(own["id"])), rule, self.current("contact", own)
                )
        queries: list[dict[str, Any]] = [{"email": e} for e in canon.emails_for_matching()[:3]]
        if canon.is_organization and (canon.display_name or canon.company):
            queries.append({"name": canon.display_name or canon.company, "is_organization": "true"})
        elif canon.last_name and (canon.work_phone or canon.mobile):
            query = {"last_name": canon.last_name, "is_organization": "false"}
            if canon.first_name:
                query["first_name"] = canon.first_name
            queries.append(query)
        for query in queries:
            page = self.client.page("contacts", {**query, "sort_by": "updated_at:desc"})
            taken = linked([sell_ref("contact", int(r["id"])) for r in page.items])
            open_records = {
                int(r["id"]): r
                for r in page.items
                if sell_ref("contact", int(r["id"])) not in taken
            }
            index = MatchIndex.build(
                Candidate(i, from_sell_contact(r, None, self.region), r.get("updated_at"))
                for i, r in open_records.items()
            )
            found = index.find(canon)
            if found is not None:
                ident = int(found.candidate.id)
                record = open_records[ident]
                return Found(
                    sell_ref("contact", ident), found.log_details(), self.current("contact", record)
                )
        return None

    def _find_by_exchange_id(
        self, id_field: str, exchange_id: str, linked: Callable[[Collection[str]], set[str]]
    ) -> dict | None:
        """The unlinked Sell contact whose ``id_field`` holds exactly ``exchange_id``.

        Sell's filter is only a pre-selection (string filters may ignore letter case, and EWS
        ids are case-sensitive base64): the exact id decides.
        """
        query = {f"custom_fields[{id_field}]": exchange_id, "sort_by": "id"}
        exact = [
            r
            for r in self.client.iter_all("contacts", query, max_pages=50)
            if _exchange_id_of(r, id_field) == exchange_id
        ]
        taken = linked([sell_ref("contact", int(r["id"])) for r in exact])
        free = [r for r in exact if sell_ref("contact", int(r["id"])) not in taken]
        return free[0] if free else None

    # -- writes ----------------------------------------------------------------------------------
    def _each(self, fn: Callable[[Write], Outcome], writes: Sequence[Write]) -> dict[str, Outcome]:
        """Run ``fn`` per write on ``max_in_flight`` threads; the first unexpected error is
        raised once every write has ended (S10.2: the batch fails, STATE does not move)."""
        out: dict[str, Outcome] = {}
        errors: list[BaseException] = []
        with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="sell-write") as pool:
            futures = {w.incoming.key: pool.submit(fn, w) for w in writes}
            for key, future in futures.items():
                exc = future.exception()
                if exc is None:
                    out[key] = future.result()
                else:
                    errors.append(exc)
        if errors:
            for exc in errors[1:]:
                self.logger.error("also failed: %s", exc)
            raise errors[0]
        return out

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        return self._each(lambda w: self._update(w, preview), writes)

    def _update(self, write: Write, preview: bool) -> Outcome:
        assert write.current is not None
        kind, ident = parse_sell_ref(write.current.key)
        record = write.current.raw
        sell = write.current.canonical
        merged = sell.with_values(write.values)
        changed = write.changed
        values = dict(write.values)
        if kind == "lead":
            payload = to_sell_lead_payload(merged, changed)
        else:
            payload = to_sell_contact_payload(merged, changed)
            values["company"] = self._company_into(payload, merged, changed, sell, preview)
        custom = self._custom_fields_for(kind, record, write)
        if custom:
            payload["custom_fields"] = custom
        held = sell.with_values(values)
        if preview or not payload:
            return Outcome("ok", Current(write.current.key, held, sell_updated(record),
                           sell_updated(record), raw=record), wrote=bool(payload),
                           fields=tuple(payload))  # fmt: skip
        try:
            written = self.client.update(PATHS[kind], ident, payload)
        except RejectedError as exc:
            return Outcome("rejected", reason=exc.reason())
        if write.overwritten and not self.fields.overwritten.get(kind):
            add_note(self.client, kind, ident, write.overwritten)  # S5.2 without the field
        stamp = written.get("updated_at")
        return Outcome("ok", Current(write.current.key, held, stamp, stamp, raw=written),
                       fields=tuple(payload))  # fmt: skip

    def _company_into(
        self,
        payload: dict[str, Any],
        merged: Canonical,
        changed: Iterable[str],
        sell: Canonical,
        preview: bool,
    ) -> str | None:
        """Set ``contact_id`` for a changed company; the company value Sell will then hold."""
        needed, name = sell_company_change(merged, list(changed))
        if not needed:
            return merged.company
        if name is None:
            payload["contact_id"] = None
            return None
        org_id = self.companies.known(name) if preview else self.companies.resolve(name)
        if org_id is None and preview and self.companies.can_create:
            payload["contact_id"] = f"(new organisation {name!r})"
            return name
        if org_id is None:
            # create_companies is off and no organisation has that name: leave Sell as it is.
            self.logger.info("no Sell organisation named %r (create_companies is off)", name)
            return sell.company
        payload["contact_id"] = org_id
        return name

    def _custom_fields_for(
        self, kind: str, record: Mapping[str, Any], write: Write
    ) -> dict[str, Any]:
        current = record.get("custom_fields") or {}
        custom: dict[str, Any] = {}
        id_field = self.fields.exchange_id.get(kind)
        if id_field and current.get(id_field) != write.incoming.key:
            custom[id_field] = write.incoming.key
        over_field = self.fields.overwritten.get(kind)
        if write.overwritten and over_field:
            text = append_overwritten(current.get(over_field), write.overwritten)
            if text != (current.get(over_field) or ""):
                custom[over_field] = text
        return custom

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        return self._each(lambda w: self._create(w, preview), writes)

    def _create(self, write: Write, preview: bool) -> Outcome:
        canon = write.incoming.canonical
        payload = to_sell_contact_payload(canon)
        values = canon.values()
        if not canon.is_organization:
            needed, name = sell_company_change(canon)
            if needed and name:
                org_id = self.companies.known(name) if preview else self.companies.resolve(name)
                if org_id is not None:
                    payload["contact_id"] = org_id
                elif not (preview and self.companies.can_create):
                    values["company"] = None
        id_field = self.fields.exchange_id.get("contact")
        if id_field:
            # The exact id, as a marker only: a filter on it never decides identity (see
            # _find_by_exchange_id), so no upsert keyed by it either.
            payload["custom_fields"] = {id_field: write.incoming.key}
        if preview:
            return Outcome("ok", fields=tuple(payload))
        try:
            created = self.client.create("contacts", payload)
        except AmbiguousWriteError as exc:
            return Outcome("uncertain", reason=str(exc))
        except RejectedError as exc:
            return Outcome("rejected", reason=exc.reason())
        held = from_sell_contact(created, None, self.region).with_values(values)
        stamp = created.get("updated_at")
        key = sell_ref("contact", int(created["id"]))
        return Outcome("ok", Current(key, held, stamp, stamp, raw=created), fields=tuple(payload))

    def find_created(
        self,
        items: Sequence[tuple[str, Mapping[str, Any]]],
        linked: Callable[[Collection[str]], set[str]],
    ) -> dict[str, Current]:
        out: dict[str, Current] = {}
        for exchange_id, values in items:
            claimed = {c.key for c in out.values()}
            found = self._search_created(values, exchange_id, linked, claimed)
            if found is not None:
                current = self.current("contact", found)
                out[exchange_id] = Current(
                    current.key,
                    from_sell_contact(found, None, self.region),
                    current.modified,
                    current.marker,
                    raw=found,
                )
        return out

    def _search_created(
        self,
        values: Mapping[str, Any],
        exchange_id: str,
        free: Callable[[Collection[str]], set[str]],
        claimed: set[str],
    ) -> dict | None:
        """The unlinked Sell contact a create for ``exchange_id`` made, if any.

        With ``exchange_id_field`` the exact id decides. A record holding ANOTHER id is never
        ours; one holding none may be (created before the field was set), so the value search
        below still runs for those.
        """
        id_field = self.fields.exchange_id.get("contact")
        if id_field:
            found = self._find_by_exchange_id(id_field, exchange_id, free)
            if found is not None:
                return found
        queries: list[dict[str, Any]] = []
        if values.get("email"):
            queries.append({"email": values["email"]})
        if values.get("last_name"):
            query = {"last_name": values["last_name"]}
            if values.get("first_name"):
                query["first_name"] = values["first_name"]
            queries.append(query)
        elif values.get("display_name"):
            queries.append({"name": values["display_name"], "is_organization": "true"})
        for query in queries:
            page = self.client.page("contacts", {**query, "sort_by": "id:desc"})
            taken = free([sell_ref("contact", int(r["id"])) for r in page.items]) | claimed
            for record in page.items:
                if sell_ref("contact", int(record["id"])) in taken:
                    continue
                if id_field and _exchange_id_of(record, id_field):
                    continue  # carries an Exchange id: found above if it were ours
                canon = from_sell_contact(record, None, self.region)
                if _same_values(canon, values):
                    return record
        return None

    def wait(self, back_off: float | None, round_no: int) -> None:
        """Nothing to wait for: the client paces and retries 429s itself."""
        return

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        """Leads that are gone because they were converted (S6): one
        ``GET /v2/lead_conversions?lead_id=`` each; contacts never become others."""
        out: dict[str, Move] = {}
        for key in keys:
            kind, ident = parse_sell_ref(key)
            if kind != "lead":
                continue
            for conversion in self.client.page("lead_conversions", {"lead_id": ident}).items:
                if conversion.get("individual_id") is not None:
                    out[key] = conversion_move(conversion)
        return out


def sell_updated(record: Mapping[str, Any]) -> Any:
    return record.get("updated_at")


def _exchange_id_of(record: Mapping[str, Any], id_field: str) -> str | None:
    value = (record.get("custom_fields") or {}).get(id_field)
    return str(value) if value not in (None, "") else None


def _same_values(sell: Canonical, values: Mapping[str, Any]) -> bool:
    """The Sell record carries exactly these source values (fields it has a counterpart for)."""
    return all(
        field_key(f, getattr(sell, f)) == field_key(f, values.get(f))
        for f in MAPPED_FIELDS
        if f not in sell.unmapped and f not in ("company", "display_name")
    )
