"""One run of the target: the Sell client, the ledger, the report, and what each batch does.

Per batch (see README "How a batch is written"):

1. deletions retire their links (S6);
2. the ledger alone decides what needs no request: echoes, replays, retired links and records
   rejected before and unchanged since (``contact_mapping.planning``);
3. linked records that moved are fetched from Sell in batches (``ids`` filter, contacts and leads
   apart); a missing Sell record retires the link, never re-creates it (S6, S4.3);
4. unlinked records are matched (S4) against the account's unlinked contacts, then merged on
   first link (S5.3) or created;
5. the writes run on ``max_in_flight`` threads, each followed by its ledger row; the batch
   returns only when every record is written, rejected (S10.1) or skipped, else it raises and
   the SDK emits no STATE past it (S10.2).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.exchange_map import from_exchange
from contact_mapping.ledger import (
    Adopted,
    Intent,
    Ledger,
    Link,
    LinkConflictError,
    NewIntent,
    Snapshot,
)
from contact_mapping.ledger_url import open_ledger
from contact_mapping.matching import Candidate, MatchIndex
from contact_mapping.merge import MergeResult, append_overwritten, merge, next_snapshot
from contact_mapping.planning import Action, plan_write
from contact_mapping.report import ProgressTicker
from contact_mapping.sell_map import (
    from_sell_contact,
    from_sell_lead,
    sell_company_change,
    to_sell_contact_payload,
    to_sell_lead_payload,
)
from contact_mapping.target_settings import DEFAULT_REGION, DEFAULT_TENANT

from target_sell_contacts.companies import Companies
from target_sell_contacts.notes import add_note
from target_sell_contacts.overwritten_delivery import SellRunReport, deliver_overwritten
from target_sell_contacts.preflight import AccountFields, SetupError, check_account
from target_sell_contacts.sell_client import (
    AmbiguousWriteError,
    RejectedError,
    SellClient,
    TransientError,
)

TARGET_NAME = "target-sell-contacts"
STREAM = "contacts"
DIRECTION = "exchange_to_sell"
SIDE = "exchange"
#: Up to this many unlinked records in a batch are matched by filtered look-ups (≈1-3 requests
#: each); more than that and paging every contact once (100 per request) is cheaper.
LOOKUP_MAX = 3
CREATE_ATTEMPTS = 3
PATHS = {"contact": "contacts", "lead": "leads"}


@dataclass
class Item:
    """One live Exchange record on its way through a batch."""

    record: dict[str, Any]
    exchange_id: str
    canonical: Canonical
    link: Link | None = None
    hint: tuple[str, int] | None = None  # the record's own Sell-link property
    sell_kind: str = "contact"
    sell_record: dict[str, Any] | None = None
    first_link: bool = False
    match_details: dict[str, Any] | None = None
    was_rejected: bool = False
    intent: Intent | None = None  # the ledger's create intent, begun for the whole batch

    @property
    def modified(self) -> Any:
        return self.record.get("last_modified_time")

    @property
    def change_key(self) -> str | None:
        return self.record.get("change_key")


@dataclass
class Settings:
    api_url: str
    api_token: str = field(repr=False)
    tenant: str
    ledger_url: str | None = field(repr=False)  # the setting; open_ledger supplies the default
    report_path: str | None
    exchange_id_field: str | None
    overwritten_values_field: str | None
    create_companies: bool
    default_region: str
    requests_per_second: float
    max_in_flight: int
    verify: bool | str
    timeout: float
    max_retries: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        verify: bool | str = bool(config.get("verify_ssl", True))
        if config.get("ca_bundle"):
            verify = str(config["ca_bundle"])
        token = str(config.get("api_token") or "")
        if not token.strip():
            msg = "api_token: the Sell API token is not set"
            raise SetupError(msg)
        return cls(
            api_url=str(config.get("api_url") or "https://api.getbase.com"),
            api_token=token,
            tenant=str(config.get("tenant") or DEFAULT_TENANT),
            ledger_url=config.get("ledger_url"),
            report_path=config.get("report_path") or None,
            exchange_id_field=(config.get("exchange_id_field") or "").strip() or None,
            overwritten_values_field=(config.get("overwritten_values_field") or "").strip() or None,
            create_companies=bool(config.get("create_companies", True)),
            default_region=str(config.get("default_region") or DEFAULT_REGION),
            requests_per_second=float(config.get("requests_per_second", 10) or 0),
            max_in_flight=max(1, int(config.get("max_in_flight") or 4)),
            verify=verify,
            timeout=float(config.get("request_timeout") or 60),
            max_retries=int(config.get("max_retries", 8)),
        )


def empty_report(config: Mapping[str, Any], logger: logging.Logger, ignored: Sequence[str]) -> None:
    """The report of a run that never touched Sell (only ignored streams, or no input)."""
    report = SellRunReport(TARGET_NAME, str(config.get("tenant") or DEFAULT_TENANT))
    report.ignored_streams.update(ignored)
    report.finish(logger, config.get("report_path") or None)


class SyncRun:
    """Everything one run shares between its batches and threads."""

    def __init__(
        self,
        settings: Settings,
        client: SellClient,
        ledger: Ledger,
        fields: AccountFields,
        logger: logging.Logger,
    ) -> None:
        self.settings = settings
        self.client = client
        self.ledger = ledger
        self.fields = fields
        self.logger = logger
        self.report = SellRunReport(TARGET_NAME, settings.tenant)
        self.companies = Companies(
            client, create=settings.create_companies, remember=ledger.remember_organizations
        )
        self.closed = False
        self._index: MatchIndex | None = None
        self._index_by_exchange_id: dict[str, int] = {}
        self._index_records: dict[int, bytes] = {}  # unlinked Sell contacts, as compact JSON
        self._claimed: set[int] = set()
        self._claim_lock = threading.Lock()
        self._ticker = ProgressTicker(self.report, logger)
        self._run_id = ledger.start_run(TARGET_NAME)
        self._ticker.__enter__()

    # -- life cycle ------------------------------------------------------------------------------

    @classmethod
    def open(cls, config: Mapping[str, Any], logger: logging.Logger) -> SyncRun:
        """Check token and custom fields, open the ledger, settle half-done creates."""
        settings = Settings.from_config(config)
        client = SellClient(
            settings.api_url,
            settings.api_token,
            requests_per_second=settings.requests_per_second,
            max_in_flight=settings.max_in_flight,
            verify=settings.verify,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        fields = check_account(
            client,
            exchange_id_field=settings.exchange_id_field,
            overwritten_values_field=settings.overwritten_values_field,
            logger=logger,
        )
        ledger = open_ledger(settings.ledger_url, settings.tenant)
        run = cls(settings, client, ledger, fields, logger)
        run.resolve_intents()
        # Before the batches: a Sell value Exchange beat is kept before this run overwrites it,
        # and the batches then read (and append to) the field with these lines already in it.
        deliver_overwritten(client, ledger, fields, run.report, logger)
        return run

    def close(self, *, failed: bool) -> dict[str, Any]:
        if self.closed:
            return {}
        self.closed = True
        self._ticker.stop()
        data = self.report.finish(self.logger, self.settings.report_path)
        if failed:
            self.logger.error("run failed; the report above covers what was done before it")
        try:
            self.ledger.finish_run(self._run_id, {**data["streams"], "failed": failed})
        finally:
            self.ledger.close()
            self.client.close()
        return data

    # -- intents left by a crashed run -----------------------------------------------------------

    def resolve_intents(self) -> None:
        outcomes = self.ledger.resolve_intents(DIRECTION, self._find_created)
        for outcome in outcomes:
            self.logger.info(
                "create of Exchange item %s left by an earlier run: %s",
                outcome.intent.source_id,
                outcome.outcome,
            )

    def _find_created(self, intent: Intent) -> Adopted | None:
        """The Sell record an interrupted create made, if it exists (matched by its values)."""
        values = intent.source_values or {}
        found = self._search_created(values, intent.source_id)
        if found is None:
            return None
        canon = from_sell_contact(found, None, self.settings.default_region)
        return Adopted(
            exchange_id=intent.source_id,
            sell_kind="contact",
            sell_id=int(found["id"]),
            destination_values=canon.values(),
            destination_modified=found.get("updated_at"),
        )

    def _search_created(self, values: Mapping[str, Any], exchange_id: str) -> dict | None:
        """The unlinked Sell contact a create for ``exchange_id`` made, if any.

        With ``exchange_id_field`` the exact id decides: Sell's filter is only a pre-selection
        (string filters may ignore letter case, and EWS ids are case-sensitive base64). A record
        holding ANOTHER id is never ours; one holding none may be (created before the field was
        set), so the value search below still runs for those.
        """
        id_field = self.fields.exchange_id.get("contact")
        if id_field:
            found = self._find_by_exchange_id(id_field, exchange_id)
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
            ids = [int(r["id"]) for r in page.items]
            linked = self.ledger.links_for_sell_ids("contact", ids)
            for record in page.items:
                if int(record["id"]) in linked:
                    continue
                if id_field and _exchange_id_of(record, id_field):
                    continue  # carries an Exchange id: found above if it were ours
                canon = from_sell_contact(record, None, self.settings.default_region)
                if _same_values(canon, values):
                    return record
        return None

    def _find_by_exchange_id(self, id_field: str, exchange_id: str) -> dict | None:
        """The unlinked Sell contact whose ``id_field`` holds exactly ``exchange_id``."""
        query = {f"custom_fields[{id_field}]": exchange_id, "sort_by": "id"}
        exact = [
            r
            for r in self.client.iter_all("contacts", query, max_pages=50)
            if _exchange_id_of(r, id_field) == exchange_id
        ]
        if not exact:
            return None
        linked = self.ledger.links_for_sell_ids("contact", [int(r["id"]) for r in exact])
        with self._claim_lock:
            free = [
                r for r in exact if int(r["id"]) not in linked and int(r["id"]) not in self._claimed
            ]
        return free[0] if free else None

    # -- a batch ---------------------------------------------------------------------------------

    def process_batch(self, records: Sequence[dict[str, Any]]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for record in records:  # a replayed id inside one batch: its last version wins
            latest.pop(str(record["id"]), None)
            latest[str(record["id"])] = record
        links = self.ledger.links_for_exchange_ids(latest, include_retired=True)
        live: list[Item] = []
        for exchange_id, record in latest.items():
            self.report.count(STREAM, "received")
            if record.get("_sdc_deleted_at"):
                self._deleted(exchange_id, links.get(exchange_id))
            else:
                live.append(self._item(exchange_id, record, links.get(exchange_id)))
        rejections = self.ledger.rejections_for(SIDE, [i.exchange_id for i in live])
        to_fetch: list[Item] = []
        unlinked: list[Item] = []
        for item in live:
            item.was_rejected = item.exchange_id in rejections
            plan = plan_write(
                item.link,
                SIDE,
                item.canonical,
                modified_marker=item.change_key,
                modified_at=item.modified,
                rejection=rejections.get(item.exchange_id),
            )
            if plan.action is Action.SKIP_ECHO:
                self.report.count(STREAM, "echoes_skipped")
            elif plan.action in (Action.SKIP_UNCHANGED, Action.SKIP_RETIRED):
                self.report.count(STREAM, "unchanged")
            elif plan.action in (Action.SKIP_REJECTED, Action.SKIP_STALE):
                self.report.count(STREAM, "unchanged")
                self.logger.info("Exchange item %s: %s", item.exchange_id, plan.reason)
            elif plan.action is Action.FETCH_AND_MERGE:
                to_fetch.append(item)
            elif item.hint is not None:
                item.sell_kind = item.hint[0]
                item.first_link = True
                to_fetch.append(item)
            else:
                unlinked.append(item)
        writes = self._fetch_linked(to_fetch)
        writes += self._match(unlinked)
        self._write_all(writes)

    def _item(self, exchange_id: str, record: dict[str, Any], link: Link | None) -> Item:
        canonical = from_exchange(record, self.settings.default_region)
        item = Item(record=record, exchange_id=exchange_id, canonical=canonical, link=link)
        if link is not None:
            item.sell_kind = link.sell_kind
        else:
            item.hint = _parse_sell_link(record.get("sell_link"))
        return item

    def _deleted(self, exchange_id: str, link: Link | None) -> None:
        self.report.count(STREAM, "deletions_seen")
        if link is not None and link.active:
            reason = "deleted in Exchange; the Sell record is kept"
            self.ledger.retire_link(link.id, reason)
            self.report.retire(STREAM, exchange_id, reason, sell=link.sell_ref)

    # -- linked records: fetch, detect vanished Sell records -------------------------------------

    def _fetch_linked(self, items: list[Item]) -> list[Item]:
        if not items:
            return []
        ids: dict[str, list[int]] = {"contact": [], "lead": []}
        for item in items:
            ids[item.sell_kind].append(self._sell_id(item))
        found = {
            kind: self.client.by_ids(PATHS[kind], wanted) for kind, wanted in ids.items() if wanted
        }
        org_ids = [r.get("contact_id") for r in found.get("contact", {}).values()]
        self.companies.names(org_ids)
        ready: list[Item] = []
        for item in items:
            record = found.get(item.sell_kind, {}).get(self._sell_id(item))
            if record is None:
                self._vanished(item)
                continue
            if item.first_link and self._taken(item.sell_kind, int(record["id"])):
                item.hint, item.first_link = None, False
                ready += self._match([item])
                continue
            item.sell_record = record
            ready.append(item)
        return ready

    def _sell_id(self, item: Item) -> int:
        if item.link is not None:
            return item.link.sell_id
        assert item.hint is not None
        return item.hint[1]

    def _taken(self, kind: str, sell_id: int) -> bool:
        with self._claim_lock:
            if kind == "contact" and sell_id in self._claimed:
                return True
        return bool(self.ledger.links_for_sell_ids(kind, [sell_id]))

    def _vanished(self, item: Item) -> None:
        reason = f"Sell {item.sell_kind} {self._sell_id(item)} was deleted or merged away in Sell"
        if item.link is not None:
            self.ledger.retire_link(item.link.id, reason)
            self.report.retire(STREAM, item.exchange_id, reason, sell=item.link.sell_ref)
        else:
            # Its Sell-link property points at a record that is gone: S6, do not re-create.
            self.report.count(STREAM, "unchanged")
            self.logger.info("Exchange item %s: %s; not re-created", item.exchange_id, reason)

    # -- unlinked records: match (S4) ------------------------------------------------------------

    def _match(self, items: list[Item]) -> list[Item]:
        if not items:
            return []
        if self._index is None and len(items) > LOOKUP_MAX:
            self._build_index()
        out: list[Item] = []
        for item in items:
            record, details = (
                self._match_in_index(item)
                if self._index is not None
                else self._match_by_lookup(item)
            )
            if record is not None:
                item.sell_record = record
                item.first_link = True
                item.sell_kind = "contact"
                item.match_details = details
                self.report.match(STREAM, item.exchange_id, **details)
                self.logger.info(
                    "Exchange item %s matched Sell contact: %s", item.exchange_id, details
                )
            out.append(item)
        return out

    def _build_index(self) -> None:
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
            linked = self.ledger.links_for_sell_ids("contact", [int(r["id"]) for r in records])
            for record in records:
                ident = int(record["id"])
                if ident in linked or ident in self._claimed:
                    continue
                canon = from_sell_contact(record, None, self.settings.default_region)
                index.add(Candidate(ident, canon, record.get("updated_at")))
                self._index_records[ident] = json.dumps(record, separators=(",", ":")).encode()
                own = (record.get("custom_fields") or {}).get(id_field) if id_field else None
                if own:
                    self._index_by_exchange_id[str(own)] = ident
        self.companies.seed(organisations, complete=True)
        self._index = index
        self.logger.info("indexed %d Sell contacts (%d unlinked) for matching", seen, len(index))

    def _indexed_record(self, ident: int) -> dict[str, Any]:
        return json.loads(self._index_records.pop(ident))

    def _match_in_index(self, item: Item) -> tuple[dict | None, dict[str, Any]]:
        assert self._index is not None
        own = self._index_by_exchange_id.get(item.exchange_id)
        if own is not None and not self._index.is_claimed(own):
            self._index.claim(own)
            self._claim(own)
            return self._indexed_record(own), {"matched_id": str(own), "rule": "exchange_id"}
        found = self._index.match(item.canonical)
        if found is None:
            return None, {}
        ident = int(found.candidate.id)
        self._claim(ident)
        return self._indexed_record(ident), found.log_details()

    def _claim(self, sell_id: int) -> None:
        with self._claim_lock:
            self._claimed.add(sell_id)

    def _match_by_lookup(self, item: Item) -> tuple[dict | None, dict[str, Any]]:
        canon = item.canonical
        id_field = self.fields.exchange_id.get("contact")
        if id_field:  # a Sell contact already carrying this exact Exchange id wins first
            own = self._find_by_exchange_id(id_field, item.exchange_id)
            if own is not None:
                self._claim(int(own["id"]))
                self.companies.names([own.get("contact_id")])
                return own, {"matched_id": str(own["id"]), "rule": "exchange_id"}
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
            ids = [int(r["id"]) for r in page.items]
            linked = self.ledger.links_for_sell_ids("contact", ids)
            with self._claim_lock:
                open_records = {
                    int(r["id"]): r
                    for r in page.items
                    if int(r["id"]) not in linked and int(r["id"]) not in self._claimed
                }
            index = MatchIndex.build(
                Candidate(
                    i, from_sell_contact(r, None, self.settings.default_region), r.get("updated_at")
                )
                for i, r in open_records.items()
            )
            found = index.find(canon)
            if found is not None:
                ident = int(found.candidate.id)
                self._claim(ident)
                record = open_records[ident]
                self.companies.names([record.get("contact_id")])
                return record, found.log_details()
        return None, {}

    # -- writes ----------------------------------------------------------------------------------

    def _write_all(self, items: list[Item]) -> None:
        if not items:
            return
        errors: list[BaseException] = []
        with ThreadPoolExecutor(
            max_workers=self.settings.max_in_flight, thread_name_prefix="sell-write"
        ) as pool:
            self._begin_intents([i for i in items if i.sell_record is None])
            futures = [pool.submit(self._write_one, item) for item in items]
            for future in futures:
                exc = future.exception()
                if exc is not None:
                    errors.append(exc)
        if errors:
            for exc in errors[1:]:
                self.logger.error("also failed: %s", exc)
            raise errors[0]

    def _begin_intents(self, creates: list[Item]) -> None:
        """Every create of the batch made durable as an intent in one commit, before any POST."""
        if not creates:
            return
        intents = self.ledger.begin_intents(
            DIRECTION,
            [
                NewIntent(
                    source_id=i.exchange_id,
                    source_values=i.canonical.values(),
                    source_modified=i.modified,
                    source_change_key=i.change_key,
                )
                for i in creates
            ],
        )
        for item in creates:
            item.intent = intents.get(item.exchange_id)

    def _write_one(self, item: Item) -> None:
        try:
            if item.sell_record is None:
                self._create(item)
            else:
                self._update(item)
        except RejectedError as exc:
            reason = exc.reason()
            self.ledger.record_rejection(
                SIDE, item.exchange_id, item.canonical.fingerprint(), reason
            )
            self.report.reject(
                STREAM,
                item.exchange_id,
                reason,
                name=_display(item.canonical),
                sell=f"{item.sell_kind}:{item.sell_record['id']}" if item.sell_record else None,
            )
            self.logger.warning("Sell rejected Exchange item %s: %s", item.exchange_id, reason)

    def _sell_canonical(self, kind: str, record: Mapping[str, Any]) -> Canonical:
        if kind == "lead":
            return from_sell_lead(record, self.settings.default_region)
        names = self.companies.names([record.get("contact_id")])
        return from_sell_contact(record, names, self.settings.default_region)

    def _update(self, item: Item) -> None:
        kind = item.sell_kind
        record = item.sell_record
        assert record is not None
        sell = self._sell_canonical(kind, record)
        base = None if item.first_link or item.link is None else item.link.snapshot.base
        result = merge(
            base,
            item.canonical,
            sell,
            exchange_modified=item.modified,
            sell_modified=record.get("updated_at"),
            first_link=item.first_link,
        )
        changed = result.changed_for(sell)
        merged = result.merged(sell)
        values = dict(result.values)
        if kind == "lead":
            payload = to_sell_lead_payload(merged, changed)
        else:
            payload = to_sell_contact_payload(merged, changed)
            values["company"] = self._company_into(payload, merged, changed, sell)
        custom = self._custom_fields_for(kind, record, item, result)
        if custom:
            payload["custom_fields"] = custom
        written = record
        if payload:
            written = self.client.update(PATHS[kind], int(record["id"]), payload)
        self._keep_overwritten(kind, written, result)
        self._report_conflicts(item, result)
        snap = next_snapshot("exchange", item.canonical, sell, values)
        snapshot = Snapshot(
            base=snap.base,
            exchange_values=snap.exchange_values,
            exchange_modified=item.modified,
            exchange_change_key=item.change_key,
            sell_values=snap.sell_values,
            sell_updated_at=written.get("updated_at"),
        )
        if item.link is not None and not item.first_link:
            self.ledger.update_link(
                item.link.id,
                # Categories belong to target-exchange; the Sell version replaced, to this write.
                lambda link: snapshot.superseding(
                    link.snapshot, sell_values=sell.values() if payload else None
                ).evolve(categories=link.snapshot.categories),
            )
        else:
            try:
                self.ledger.create_link(item.exchange_id, kind, int(record["id"]), snapshot)
            except LinkConflictError:
                self.logger.warning(
                    "Exchange item %s or Sell %s %s was linked meanwhile by another run",
                    item.exchange_id,
                    kind,
                    record["id"],
                )
        if item.was_rejected:
            self.ledger.clear_rejection(SIDE, item.exchange_id)
        if payload:
            self.report.count(STREAM, "updated")
        else:
            self.report.count(STREAM, "unchanged")

    def _company_into(
        self, payload: dict[str, Any], merged: Canonical, changed: Iterable[str], sell: Canonical
    ) -> str | None:
        """Set ``contact_id`` for a changed company; the company value Sell will then hold."""
        needed, name = sell_company_change(merged, list(changed))
        if not needed:
            return merged.company
        if name is None:
            payload["contact_id"] = None
            return None
        org_id = self.companies.resolve(name)
        if org_id is None:
            # create_companies is off and no organisation has that name: leave Sell as it is.
            self.logger.info("no Sell organisation named %r (create_companies is off)", name)
            return sell.company
        payload["contact_id"] = org_id
        return name

    def _custom_fields_for(
        self, kind: str, record: Mapping[str, Any], item: Item, result: MergeResult | None
    ) -> dict[str, Any]:
        current = record.get("custom_fields") or {}
        custom: dict[str, Any] = {}
        id_field = self.fields.exchange_id.get(kind)
        if id_field and current.get(id_field) != item.exchange_id:
            custom[id_field] = item.exchange_id
        over_field = self.fields.overwritten.get(kind)
        if result is not None and result.overwritten and over_field:
            text = append_overwritten(current.get(over_field), result.overwritten)
            if text != (current.get(over_field) or ""):
                custom[over_field] = text
        return custom

    def _keep_overwritten(self, kind: str, record: Mapping[str, Any], result: MergeResult) -> None:
        """S5.2 fallback: without the custom field the losing values go to a note."""
        if not result.overwritten or self.fields.overwritten.get(kind):
            return  # none lost, or appended to the custom field in the same PUT
        add_note(self.client, kind, int(record["id"]), result.overwritten)

    def _report_conflicts(self, item: Item, result: MergeResult) -> None:
        for lost in result.overwritten:
            kept_origin = "exchange" if lost.origin == "sell" else "sell"
            self.report.conflict(
                STREAM,
                item.exchange_id,
                field=lost.field,
                kept=result.values.get(lost.field),
                kept_origin=kept_origin,
                overwritten=lost.value,
                overwritten_origin=lost.origin,
            )

    def _create(self, item: Item) -> None:
        canon = item.canonical
        payload = to_sell_contact_payload(canon)
        values = canon.values()
        if not canon.is_organization:
            needed, name = sell_company_change(canon)
            if needed and name:
                org_id = self.companies.resolve(name)
                if org_id is not None:
                    payload["contact_id"] = org_id
                else:
                    values["company"] = None
        id_field = self.fields.exchange_id.get("contact")
        if id_field:
            # The exact id, as a marker only: a filter on it never decides identity (see
            # _search_created), so no upsert keyed by it either.
            payload["custom_fields"] = {id_field: item.exchange_id}
        intent = item.intent or self.ledger.begin_intent(
            DIRECTION,
            item.exchange_id,
            canon.values(),
            source_modified=item.modified,
            source_change_key=item.change_key,
        )
        created = None
        for _attempt in range(CREATE_ATTEMPTS):
            try:
                created = self.client.create("contacts", payload)
                break
            except AmbiguousWriteError as exc:
                self.logger.info("create of %s: %s; looking for it", item.exchange_id, exc)
                created = self._search_created(canon.values(), item.exchange_id)
                if created is not None:
                    break
            except RejectedError:
                self.ledger.drop_intent(intent)
                raise
        if created is None:
            msg = f"creating a Sell contact for Exchange item {item.exchange_id} kept failing"
            raise TransientError(msg)
        self._link_created(item, created, values, intent)

    def _link_created(
        self,
        item: Item,
        created: Mapping[str, Any],
        values: Mapping[str, Any],
        intent: Intent | None = None,
    ) -> None:
        sell = from_sell_contact(created, None, self.settings.default_region)
        snap = next_snapshot("exchange", item.canonical, sell, values)
        snapshot = Snapshot(
            base=snap.base,
            exchange_values=snap.exchange_values,
            exchange_modified=item.modified,
            exchange_change_key=item.change_key,
            sell_values={**snap.sell_values, "company": values.get("company")}
            if not item.canonical.is_organization
            else snap.sell_values,
            sell_updated_at=created.get("updated_at"),
        )
        sell_id = int(created["id"])
        try:
            if intent is not None:
                self.ledger.complete_intent(intent, item.exchange_id, "contact", sell_id, snapshot)
            else:
                self.ledger.create_link(item.exchange_id, "contact", sell_id, snapshot)
        except LinkConflictError:
            self.logger.warning(
                "Exchange item %s was linked meanwhile (Sell contact %s)", item.exchange_id, sell_id
            )
            if intent is not None:
                self.ledger.drop_intent(intent)
        if item.was_rejected:
            self.ledger.clear_rejection(SIDE, item.exchange_id)
        self.report.count(STREAM, "created")


def _parse_sell_link(value: Any) -> tuple[str, int] | None:
    """``"contact:123"`` / ``"lead:45"`` → (kind, id); anything else → None."""
    if not value or not isinstance(value, str) or ":" not in value:
        return None
    kind, _, ident = value.partition(":")
    if kind not in PATHS or not ident.strip().isdigit():
        return None
    return kind, int(ident)


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


def _display(c: Canonical) -> str:
    return c.display_name or " ".join(p for p in (c.first_name, c.last_name) if p) or c.email or "?"
