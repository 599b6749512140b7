"""The sync ledger's facade: one tenant's view, its transactions, and the calls the targets make.

One ``Ledger`` serves one tenant; every statement it issues filters on (or writes) that tenant,
so it cannot see or touch another tenant's rows. It owns the engine and the transactions; the
SQL of each table lives in its own module (``links``, ``intents``, ``rejections``,
``organizations``, ``overwritten_values``, ``runs``), and opening the ledger brings its schema
to the newest Alembic revision (``migrate``, imported only when ``schema_version`` finds the
schema behind). Locking across processes: ``database``; one writing run per tenant: ``run_lock``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from contact_mapping.ledger import (
    category_ids,
    database,
    intents,
    links,
    moves,
    organizations,
    overwritten_values,
    rejections,
    run_lock,
    runs,
    schema_version,
)
from contact_mapping.ledger.models import (
    Adopted,
    Intent,
    IntentOutcome,
    Link,
    LinkConflictError,
    Move,
    NewIntent,
    OverwrittenValue,
    Rejection,
    Snapshot,
    StaleLinkError,
)
from contact_mapping.ledger.sql import INSERTS

DEFAULT_LEDGER_URL = "sqlite:///.meltano/contact-sync-ledger.db"


class Ledger:
    """The tenant's view of the sync ledger (see the module docstring and the README)."""

    def __init__(
        self,
        url: str | None = None,
        tenant: str = "default",
        *,
        schema: str | None = None,
        echo: bool = False,
        exclusive: bool = False,
    ) -> None:
        """``exclusive``: hold the tenant's run lock until ``close`` (what a target's run does;
        TenantBusyError when another run holds it, see ``run_lock``)."""
        if not tenant or not str(tenant).strip():
            msg = "ledger tenant must be a non-empty string (setting `tenant`)"
            raise ValueError(msg)
        self.tenant = str(tenant)
        self.url = make_url(url or DEFAULT_LEDGER_URL)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in INSERTS:  # refused at open, not at the first write of a run
            msg = f"unsupported ledger database {self.dialect!r} (use sqlite or postgresql)"
            raise ValueError(msg)
        self.engine = database.create_engine(self.url, schema, echo)
        self._run_lock: sa.Connection | None = None
        try:
            if exclusive:  # before the upgrade: a refused run writes nothing at all
                self._run_lock = run_lock.hold(self.engine, self.tenant, schema)
            #: Alembic revision found on open (None: a new database) and the one it is at now.
            self.upgraded_from, self.schema_revision = self._upgrade(schema)
        except BaseException:
            self.close()
            raise

    def _upgrade(self, schema: str | None) -> tuple[str | None, str]:
        with self._write() as conn:
            schema_version.lock(conn)  # two processes opening one new database create it once
            if schema:
                database.create_schema(conn, schema)
            found = schema_version.current_revision(conn)
            if found == schema_version.HEAD:  # every open but the first after an upgrade
                return found, found
            from contact_mapping.ledger import migrate  # noqa: PLC0415 - Alembic: only if behind

            return migrate.upgrade(conn)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{database.READ_ONLY: True})
            with conn.begin():
                yield conn

    def close(self) -> None:
        if self._run_lock is not None:
            self._run_lock.close()  # the server lets the tenant's run lock go with it
            self._run_lock = None
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows a password from the URL
        return f"Ledger({self.url.render_as_string(hide_password=True)!r}, tenant={self.tenant!r})"

    # -- links -----------------------------------------------------------------------------------
    def create_link(
        self,
        exchange_id: str,
        sell_kind: str,
        sell_id: int,
        snapshot: Snapshot | None = None,
        *,
        overwritten: Iterable[OverwrittenValue] = (),
    ) -> Link:
        """Link two records (after a match or a create); LinkConflictError if either is taken.

        ``overwritten``: values that lost this first merge, queued for Sell in the same
        transaction (S5.2).
        """
        with self._write() as conn:
            link = links.insert(
                conn,
                self.tenant,
                exchange_id=exchange_id,
                sell_kind=sell_kind,
                sell_id=sell_id,
                snapshot=snapshot or Snapshot(),
            )
            overwritten_values.enqueue(conn, self.tenant, overwritten)
            return link

    def get_link(self, link_id: int) -> Link | None:
        with self._read() as conn:
            return links.get(conn, self.tenant, link_id)

    def links_for_exchange_ids(
        self, exchange_ids: Iterable[str], include_retired: bool = False
    ) -> dict[str, Link]:
        """Links of these Exchange items, one query per batch of ≤5000 ids.

        With ``include_retired`` an id whose link was retired maps to its latest retired link,
        so a target can leave it alone (S6) instead of matching or creating again.
        """
        with self._read() as conn:
            return links.by_exchange_ids(conn, self.tenant, exchange_ids, include_retired)

    def links_for_sell_ids(
        self, sell_kind: str, sell_ids: Iterable[int], include_retired: bool = False
    ) -> dict[int, Link]:
        """Links of these Sell records of one kind (``contact`` / ``lead``); see above."""
        with self._read() as conn:
            return links.by_sell_ids(conn, self.tenant, sell_kind, sell_ids, include_retired)

    def active_links(self) -> list[Link]:
        with self._read() as conn:
            return links.active(conn, self.tenant)

    def links_of_other_protocol(self, protocol: str) -> list[Link]:
        """Active links made over the other Exchange protocol than ``protocol`` (S13.2): their
        Exchange ids name contacts this protocol knows by other ids."""
        with self._read() as conn:
            return links.active_of_other_protocol(conn, self.tenant, protocol)

    def rekey_exchange(self, link_id: int, exchange_id: str, expected_version: int) -> Link:
        """A link's Exchange item re-found under another protocol's id (S13.2): same pair,
        same snapshot, the id replaced. StaleLinkError if the link moved meanwhile,
        LinkConflictError if that id is linked already."""
        with self._write() as conn:
            return links.rekey_exchange(conn, self.tenant, link_id, exchange_id, expected_version)

    def save_snapshot(
        self,
        link_id: int,
        snapshot: Snapshot,
        expected_version: int | None = None,
        *,
        overwritten: Iterable[OverwrittenValue] = (),
    ) -> Link:
        """Replace a link's snapshot; with ``expected_version`` raise StaleLinkError if it moved.

        ``overwritten``: values that lost the merge this snapshot records, queued for Sell in
        the same transaction, so a crash never keeps one without the other.
        """
        with self._write() as conn:
            link = links.lock(conn, self.tenant, link_id)
            if expected_version is not None and link.version != expected_version:
                msg = f"link {link_id} is at version {link.version}, not {expected_version}"
                raise StaleLinkError(msg)
            stored = links.store(conn, self.tenant, link, **links.snapshot_columns(snapshot))
            overwritten_values.enqueue(conn, self.tenant, overwritten)
            return stored

    def retire_link(self, link_id: int, reason: str) -> Link:
        """Deletes are never propagated (S6): the link is retired, both records are left alone."""
        with self._write() as conn:
            return links.retire(conn, self.tenant, link_id, reason)

    # -- intents (crash-safe creates: see the ``intents`` module) --------------------------------
    def begin_intents(self, direction: str, requests: Iterable[NewIntent]) -> dict[str, Intent]:
        """Step 1 for a batch of creates, in ONE committed transaction; intents by source id.

        Every intent is durable before its create is sent. A source record that already has a
        pending intent gets that one back (its create may have happened: resolve it first with
        :meth:`resolve_intents`).
        """
        with self._write() as conn:
            return intents.begin(conn, self.tenant, direction, requests)

    def pending_intents(self, direction: str) -> list[Intent]:
        intents.check_direction(direction)
        with self._read() as conn:
            return list(intents.pending(conn, self.tenant, direction).values())

    def complete_intents(
        self, completions: Iterable[tuple[Intent, str, str, int, Snapshot]]
    ) -> dict[int, Link | None]:
        """Step 3 for a batch: links written and intents deleted in ONE transaction.

        ``completions``: (intent, exchange_id, sell_kind, sell_id, snapshot). Returns intent id
        → link, or None where a link already held one of the records (that intent is deleted
        too and its record left unlinked). A crash before the commit leaves every intent
        pending, i.e. "after step 2": resolved by adoption on the next start.
        """
        out: dict[int, Link | None] = {}
        with self._write() as conn:
            for intent, exchange_id, sell_kind, sell_id, snapshot in completions:
                try:
                    link = links.insert(
                        conn,
                        self.tenant,
                        exchange_id=exchange_id,
                        sell_kind=sell_kind,
                        sell_id=sell_id,
                        snapshot=snapshot,
                    )
                except LinkConflictError:
                    link = None
                intents.delete(conn, self.tenant, intent)
                out[intent.id] = link
        return out

    def drop_intent(self, intent: Intent) -> None:
        """The create did not happen (the destination refused it): forget the intent."""
        with self._write() as conn:
            intents.delete(conn, self.tenant, intent)

    def resolve_intents(
        self, direction: str, finder: Callable[[Intent], Adopted | None]
    ) -> list[IntentOutcome]:
        """Run at target start: settle every create a previous run left half done.

        ``finder(intent)`` searches the destination for the record that intent's create made
        (Exchange: the Sell-link property == source ref; Sell: the ``exchange_id_field`` custom
        field == source id, else the fingerprint + created after ``intent.started_at``) and
        returns an :class:`Adopted` or None. Found → linked and the intent deleted, atomically;
        not found → the create never happened and the intent is dropped, so the record is
        created afresh by the normal flow.
        """
        decided = [(intent, finder(intent)) for intent in self.pending_intents(direction)]
        outcomes: list[IntentOutcome] = []
        # One transaction for all of them: a crash inside it leaves every intent pending, to be
        # resolved the same way next time (the finder only reads the destination).
        with self._write() as conn:
            for intent, found in decided:
                intents.delete(conn, self.tenant, intent)
                if found is None:
                    outcomes.append(IntentOutcome(intent, "dropped"))
                    continue
                snapshot = intents.adopted_snapshot(intent, found)
                try:
                    link = links.insert(
                        conn,
                        self.tenant,
                        exchange_id=found.exchange_id,
                        sell_kind=found.sell_kind,
                        sell_id=found.sell_id,
                        snapshot=snapshot,
                    )
                except LinkConflictError:
                    outcomes.append(IntentOutcome(intent, "already_linked"))
                else:
                    outcomes.append(IntentOutcome(intent, "adopted", link))
        return outcomes

    # -- rejections (S10.1) ----------------------------------------------------------------------
    def record_rejection(self, side: str, record_id: str, fp: str, reason: str) -> None:
        """Remember that ``side`` rejected this record version; counted per retry."""
        with self._write() as conn:
            rejections.record(
                conn, self.tenant, side=side, record_id=record_id, fp=fp, reason=reason
            )

    def rejections_for(self, side: str, record_ids: Iterable[str]) -> dict[str, Rejection]:
        with self._read() as conn:
            return rejections.for_records(conn, self.tenant, side, record_ids)

    def clear_rejection(self, side: str, record_id: str) -> None:
        with self._write() as conn:
            rejections.clear(conn, self.tenant, side, record_id)

    # -- organisations (company names without Sell API access) -----------------------------------
    # -- Sell records that became others (S6: a converted lead) ---------------------------------
    def record_moves(self, found: Iterable[Move]) -> None:
        found = list(found)
        if found:
            with self._write() as conn:
                moves.record(conn, self.tenant, found)

    def moves_from(self, refs: Iterable[str]) -> dict[str, Move]:
        with self._read() as conn:
            return moves.from_refs(conn, self.tenant, refs)

    def moves_to(self, refs: Iterable[str]) -> dict[str, Move]:
        with self._read() as conn:
            return moves.to_refs(conn, self.tenant, refs)

    def move_link(self, link_id: int, sell_kind: str, sell_id: int, expected_version: int) -> Link:
        """Point an active link at another Sell record; StaleLinkError if it moved meanwhile,
        LinkConflictError if that record is linked already."""
        with self._write() as conn:
            link = links.lock(conn, self.tenant, link_id)
            if link.version != expected_version or not link.active:
                msg = f"link {link_id} is at version {link.version}, not {expected_version}"
                raise StaleLinkError(msg)
            return links.move_sell_side(conn, self.tenant, link, sell_kind, sell_id)

    def category_ids(self) -> dict[str, str]:
        """Sell category name → the id the mailbox gave it (S3.2 over Graph)."""
        with self._read() as conn:
            return category_ids.known(conn, self.tenant)

    def remember_category_ids(self, ids: Mapping[str, str]) -> None:
        with self._write() as conn:
            category_ids.remember(conn, self.tenant, ids)

    def remember_organizations(self, names: Mapping[int, str]) -> None:
        """Learn Sell organisation id → name from records seen (upsert, last one wins)."""
        if not names:
            return
        with self._write() as conn:
            organizations.remember(conn, self.tenant, names)

    def organization_names(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        with self._read() as conn:
            return organizations.names(conn, self.tenant, ids)

    # -- values that lost a conflict, kept in Sell (S5.2) ---------------------------------------
    def pending_overwritten(
        self,
        sell_kind: str | None = None,
        sell_ids: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> list[OverwrittenValue]:
        """This tenant's undelivered values, oldest first (optionally of some Sell records).

        The Sell-side target appends them (``contact_mapping.merge.append_overwritten`` on
        :meth:`OverwrittenValue.as_overwritten`) to the record's ``overwritten_values_field`` or
        a note, then calls :meth:`mark_overwritten_delivered` with their ids.
        """
        with self._read() as conn:
            return overwritten_values.pending(conn, self.tenant, sell_kind, sell_ids, limit)

    def mark_overwritten_delivered(self, ids: Iterable[int]) -> int:
        """Mark queued values as written to Sell; returns how many pending rows changed."""
        with self._write() as conn:
            return overwritten_values.mark_delivered(conn, self.tenant, ids)

    # -- runs ------------------------------------------------------------------------------------
    def start_run(self, target: str) -> int:
        with self._write() as conn:
            return runs.start(conn, self.tenant, target)

    def finish_run(self, run_id: int, counts: Mapping[str, Any]) -> None:
        with self._write() as conn:
            runs.finish(conn, self.tenant, run_id, counts)
