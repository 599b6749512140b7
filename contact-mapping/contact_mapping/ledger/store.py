"""The sync ledger: links, snapshots, intents, rejections, organisations and runs per tenant.

One ``Ledger`` object serves one tenant; every statement it issues filters on (or writes) that
tenant, so it cannot see or touch another tenant's rows. Two processes (the two targets) may use
one database at once: SQLite runs in WAL mode with a busy timeout and takes the write lock at the
start of every writing transaction (``BEGIN IMMEDIATE``); PostgreSQL uses row locks
(``SELECT … FOR UPDATE``) wherever a value is read, changed and written back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from contact_mapping.canonical import fingerprint
from contact_mapping.ledger import schema as s
from contact_mapping.ledger.models import (
    DIRECTIONS,
    SELL_KINDS,
    Adopted,
    Intent,
    IntentOutcome,
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
from contact_mapping.normalize import iso_utc, to_utc

DEFAULT_LEDGER_URL = "sqlite:///.meltano/contact-sync-ledger.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_READ_ONLY = "contact_mapping_read_only"
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}  # upsert-capable inserts
_CHUNK = 5_000  # bound on ids per IN (...) list; one query for any realistic batch


def _in_chunks(values: list[Any]) -> Iterator[list[Any]]:
    """``values`` in slices short enough for one ``IN (...)`` list each."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class _Row:
    """Inserted column values in the shape ``_link_from_row`` reads (``row._mapping``)."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers lock up front: a deferred reader upgraded to writer in WAL mode fails with
        # SQLITE_BUSY_SNAPSHOT instead of waiting, which would lose or abort updates.
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Ledger:
    """The tenant's view of the sync ledger (see module docstring and README for the protocol)."""

    def __init__(
        self,
        url: str | None = None,
        tenant: str = "default",
        *,
        schema: str | None = None,
        echo: bool = False,
    ) -> None:
        if not tenant or not str(tenant).strip():
            msg = "ledger tenant must be a non-empty string (setting `tenant`)"
            raise ValueError(msg)
        self.tenant = str(tenant)
        self.url = make_url(url or DEFAULT_LEDGER_URL)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in _INSERTS:  # refused at open, not at the first write of a run
            msg = f"unsupported ledger database {self.dialect!r} (use sqlite or postgresql)"
            raise ValueError(msg)
        if self.dialect == "sqlite":
            self._make_sqlite_dir()
            if schema:
                msg = "a ledger schema name is only supported on PostgreSQL"
                raise ValueError(msg)
            self.engine = sa.create_engine(
                self.url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = sa.create_engine(self.url, echo=echo, pool_pre_ping=True)
            if schema:
                self._use_schema(schema)
        self.upgraded_from, self.schema_version = self._ensure_schema()

    # -- plumbing --------------------------------------------------------------------------------
    def _make_sqlite_dir(self) -> None:
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    def _use_schema(self, schema: str) -> None:
        if not _SCHEMA_NAME.match(schema):
            msg = f"invalid ledger schema name {schema!r}"
            raise ValueError(msg)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

        @sa.event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET search_path TO "{schema}"')
            cursor.close()
            dbapi_connection.commit()

        self.engine.dispose()  # drop the connection made before the hook existed

    def _ensure_schema(self) -> tuple[int | None, int]:
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Two processes opening a new database must not both create the tables.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(874325501)"))
            return s.ensure_schema(conn)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows a password from the URL
        return f"Ledger({self.url.render_as_string(hide_password=True)!r}, tenant={self.tenant!r})"

    # -- links -----------------------------------------------------------------------------------
    def _link_from_row(self, row: Any) -> Link:
        m = row._mapping
        snap = Snapshot(
            base=m["base"],
            exchange_values=m["exchange_values"],
            exchange_modified=m["exchange_modified"],
            exchange_change_key=m["exchange_change_key"],
            sell_values=m["sell_values"],
            sell_updated_at=m["sell_updated_at"],
            categories=tuple(m["categories"]) if m["categories"] is not None else None,
            exchange_superseded_key=m["exchange_superseded_key"],
            sell_superseded_values=m["sell_superseded_values"],
        )
        return Link(
            id=m["id"],
            exchange_id=m["exchange_id"],
            sell_kind=m["sell_kind"],
            sell_id=int(m["sell_id"]),
            status=m["status"],
            snapshot=snap,
            version=m["version"],
            retired_reason=m["retired_reason"],
            retired_at=m["retired_at"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )

    @staticmethod
    def _snapshot_columns(snapshot: Snapshot) -> dict[str, Any]:
        return {
            "base": snapshot.base,
            "exchange_values": snapshot.exchange_values,
            "exchange_fingerprint": snapshot.exchange_fingerprint,
            "exchange_modified": iso_utc(snapshot.exchange_modified),
            "exchange_change_key": snapshot.exchange_change_key,
            "sell_values": snapshot.sell_values,
            "sell_fingerprint": snapshot.sell_fingerprint,
            "sell_updated_at": iso_utc(snapshot.sell_updated_at),
            "categories": list(snapshot.categories) if snapshot.categories is not None else None,
            "exchange_superseded_key": snapshot.exchange_superseded_key,
            "sell_superseded_values": snapshot.sell_superseded_values,
        }

    def _mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.tenant == self.tenant

    def _insert_link(
        self,
        conn: sa.Connection,
        exchange_id: str,
        sell_kind: str,
        sell_id: int,
        snapshot: Snapshot,
    ) -> Link:
        if sell_kind not in SELL_KINDS:
            msg = f"sell_kind must be one of {SELL_KINDS}, not {sell_kind!r}"
            raise ValueError(msg)
        now = _now()
        values = {
            "tenant": self.tenant,
            "exchange_id": str(exchange_id),
            "sell_kind": sell_kind,
            "sell_id": int(sell_id),
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "version": 1,
            **self._snapshot_columns(snapshot),
        }
        try:
            with conn.begin_nested():
                new_id = conn.execute(s.links.insert().values(**values)).inserted_primary_key[0]
        except IntegrityError as exc:
            msg = (
                f"an active link already exists for Exchange item {exchange_id!r} or "
                f"Sell {sell_kind}:{sell_id}"
            )
            raise LinkConflictError(msg) from exc
        # Built from what was inserted (no read back: creates come in batches of hundreds).
        return self._link_from_row(
            _Row({**values, "id": new_id, "retired_reason": None, "retired_at": None})
        )

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
        transaction (see :meth:`enqueue_overwritten`).
        """
        with self._write() as conn:
            link = self._insert_link(conn, exchange_id, sell_kind, sell_id, snapshot or Snapshot())
            self._enqueue_overwritten(conn, overwritten)
            return link

    def get_link(self, link_id: int) -> Link | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(s.links).where(self._mine(s.links), s.links.c.id == link_id)
            ).first()
        return self._link_from_row(row) if row else None

    def _links_where(self, condition: sa.ColumnElement[bool], include_retired: bool) -> list[Link]:
        query = sa.select(s.links).where(self._mine(s.links), condition)
        if not include_retired:
            query = query.where(s.links.c.status == "active")
        with self._read() as conn:
            rows = conn.execute(query.order_by(s.links.c.id)).all()
        return [self._link_from_row(r) for r in rows]

    @staticmethod
    def _prefer_active(links: Iterable[Link], key: Callable[[Link], Any]) -> dict[Any, Link]:
        """One link per key: the active one, else the most recent retired one."""
        out: dict[Any, Link] = {}
        for link in links:  # ordered by id, so later = newer
            current = out.get(key(link))
            if current is None or not current.active:
                out[key(link)] = link
        return out

    def links_for_exchange_ids(
        self, exchange_ids: Iterable[str], include_retired: bool = False
    ) -> dict[str, Link]:
        """Links of these Exchange items, one query per batch of ≤5000 ids.

        With ``include_retired`` an id whose link was retired maps to its latest retired link,
        so a target can leave it alone (S6) instead of matching or creating again.
        """
        ids = list(dict.fromkeys(str(i) for i in exchange_ids))
        found: list[Link] = []
        for chunk in _in_chunks(ids):
            found += self._links_where(s.links.c.exchange_id.in_(chunk), include_retired)
        return self._prefer_active(found, lambda link: link.exchange_id)

    def links_for_sell_ids(
        self, sell_kind: str, sell_ids: Iterable[int], include_retired: bool = False
    ) -> dict[int, Link]:
        """Links of these Sell records of one kind (``contact`` / ``lead``); see above."""
        ids = list(dict.fromkeys(int(i) for i in sell_ids))
        found: list[Link] = []
        for chunk in _in_chunks(ids):
            condition = sa.and_(s.links.c.sell_kind == sell_kind, s.links.c.sell_id.in_(chunk))
            found += self._links_where(condition, include_retired)
        return self._prefer_active(found, lambda link: link.sell_id)

    def active_links(self) -> list[Link]:
        return self._links_where(sa.true(), include_retired=False)

    def _locked_link(self, conn: sa.Connection, link_id: int) -> Link:
        row = conn.execute(
            sa.select(s.links).where(self._mine(s.links), s.links.c.id == link_id).with_for_update()
        ).first()
        if row is None:
            msg = f"no link {link_id} for tenant {self.tenant!r}"
            raise UnknownLinkError(msg)
        return self._link_from_row(row)

    def _store_link(self, conn: sa.Connection, link: Link, **columns: Any) -> Link:
        conn.execute(
            s.links.update()
            .where(self._mine(s.links), s.links.c.id == link.id)
            .values(version=link.version + 1, updated_at=_now(), **columns)
        )
        row = conn.execute(sa.select(s.links).where(s.links.c.id == link.id)).one()
        return self._link_from_row(row)

    def update_link(self, link_id: int, change: Callable[[Link], Snapshot]) -> Link:
        """Read-modify-write of a link's snapshot under a row lock; ``change`` gets the fresh link.

        Use this when the other target may have touched the link since it was read.
        """
        with self._write() as conn:
            link = self._locked_link(conn, link_id)
            return self._store_link(conn, link, **self._snapshot_columns(change(link)))

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
            link = self._locked_link(conn, link_id)
            if expected_version is not None and link.version != expected_version:
                msg = f"link {link_id} is at version {link.version}, not {expected_version}"
                raise StaleLinkError(msg)
            stored = self._store_link(conn, link, **self._snapshot_columns(snapshot))
            self._enqueue_overwritten(conn, overwritten)
            return stored

    def retire_link(self, link_id: int, reason: str) -> Link:
        """Deletes are never propagated (S6): the link is retired, both records are left alone."""
        with self._write() as conn:
            link = self._locked_link(conn, link_id)
            if not link.active:
                return link
            return self._store_link(
                conn, link, status="retired", retired_reason=reason, retired_at=_now()
            )

    # -- intents (crash-safe creates; README "Crash safety") --------------------------------------
    def _intent_from_row(self, row: Any) -> Intent:
        m = row._mapping
        return Intent(
            id=m["id"],
            direction=m["direction"],
            source_id=m["source_id"],
            idempotency_key=m["idempotency_key"],
            payload_fingerprint=m["payload_fingerprint"],
            started_at=to_utc(m["started_at"]) or datetime.now(UTC),
            source_values=m["source_values"],
            source_modified=m["source_modified"],
            source_change_key=m["source_change_key"],
        )

    @staticmethod
    def _check_direction(direction: str) -> None:
        if direction not in DIRECTIONS:
            msg = f"direction must be one of {DIRECTIONS}, not {direction!r}"
            raise ValueError(msg)

    def begin_intent(
        self,
        direction: str,
        source_id: str,
        source_values: Mapping[str, Any] | None = None,
        *,
        payload_fingerprint: str | None = None,
        source_modified: Any = None,
        source_change_key: str | None = None,
    ) -> Intent:
        """Record, and commit, that a create is about to be sent. Step 1 of the protocol.

        Returns the already-pending intent for the same source record if there is one (its
        create may have happened; resolve it first with :meth:`resolve_intents`).
        """
        self._check_direction(direction)
        values = dict(source_values) if source_values is not None else None
        row = {
            "tenant": self.tenant,
            "direction": direction,
            "source_id": str(source_id),
            "idempotency_key": uuid.uuid4().hex,
            "payload_fingerprint": payload_fingerprint
            or (fingerprint(values) if values is not None else ""),
            "source_values": values,
            "source_modified": iso_utc(source_modified),
            "source_change_key": source_change_key,
            "started_at": _now(),
        }
        with self._write() as conn:
            existing = self._pending(conn, direction, str(source_id))
            if existing is not None:
                return existing
            conn.execute(s.intents.insert().values(**row))
            created = self._pending(conn, direction, str(source_id))
            assert created is not None
            return created

    def begin_intents(self, direction: str, requests: Iterable[NewIntent]) -> dict[str, Intent]:
        """:meth:`begin_intent` for a whole batch of creates in ONE committed transaction.

        Same protocol, same guarantees (every intent is durable before its create is sent);
        one commit instead of one per record. Returns intents by ``source_id``; an already
        pending intent of a source record is returned as it is.
        """
        self._check_direction(direction)
        wanted = {str(r.source_id): r for r in requests}
        if not wanted:
            return {}
        now = _now()
        with self._write() as conn:
            out = self._pending_many(conn, direction, list(wanted))
            rows = []
            for source_id, req in wanted.items():
                if source_id in out:
                    continue
                values = dict(req.source_values) if req.source_values is not None else None
                rows.append(
                    {
                        "tenant": self.tenant,
                        "direction": direction,
                        "source_id": source_id,
                        "idempotency_key": uuid.uuid4().hex,
                        "payload_fingerprint": req.payload_fingerprint
                        or (fingerprint(values) if values is not None else ""),
                        "source_values": values,
                        "source_modified": iso_utc(req.source_modified),
                        "source_change_key": req.source_change_key,
                        "started_at": now,
                    }
                )
            if rows:
                conn.execute(s.intents.insert(), rows)
                out.update(self._pending_many(conn, direction, [r["source_id"] for r in rows]))
            return out

    def _pending_many(
        self, conn: sa.Connection, direction: str, source_ids: list[str]
    ) -> dict[str, Intent]:
        out: dict[str, Intent] = {}
        for chunk in _in_chunks(source_ids):
            rows = conn.execute(
                sa.select(s.intents).where(
                    self._mine(s.intents),
                    s.intents.c.direction == direction,
                    s.intents.c.source_id.in_(chunk),
                )
            ).all()
            for row in rows:
                intent = self._intent_from_row(row)
                out[intent.source_id] = intent
        return out

    def _pending(self, conn: sa.Connection, direction: str, source_id: str) -> Intent | None:
        found = conn.execute(
            sa.select(s.intents).where(
                self._mine(s.intents),
                s.intents.c.direction == direction,
                s.intents.c.source_id == source_id,
            )
        ).first()
        return self._intent_from_row(found) if found else None

    def pending_intents(self, direction: str) -> list[Intent]:
        self._check_direction(direction)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(s.intents)
                .where(self._mine(s.intents), s.intents.c.direction == direction)
                .order_by(s.intents.c.id)
            ).all()
        return [self._intent_from_row(r) for r in rows]

    def _delete_intent(self, conn: sa.Connection, intent: Intent) -> int:
        return conn.execute(
            s.intents.delete().where(self._mine(s.intents), s.intents.c.id == intent.id)
        ).rowcount

    def complete_intent(
        self,
        intent: Intent,
        exchange_id: str,
        sell_kind: str,
        sell_id: int,
        snapshot: Snapshot,
    ) -> Link:
        """Step 3: link + snapshots written and the intent deleted in one transaction."""
        with self._write() as conn:
            link = self._insert_link(conn, exchange_id, sell_kind, sell_id, snapshot)
            self._delete_intent(conn, intent)
            return link

    def complete_intents(
        self, completions: Iterable[tuple[Intent, str, str, int, Snapshot]]
    ) -> dict[int, Link | None]:
        """:meth:`complete_intent` for a batch (intent, exchange_id, sell_kind, sell_id, snapshot)
        in ONE transaction; returns intent id → link, or None where a link already held one of
        the records (that intent is deleted too, its record left unlinked, as the caller of
        ``complete_intent`` does on LinkConflictError). A crash before the commit leaves every
        intent pending, i.e. "after step 2": resolved by adoption on the next start."""
        out: dict[int, Link | None] = {}
        with self._write() as conn:
            for intent, exchange_id, sell_kind, sell_id, snapshot in completions:
                try:
                    link = self._insert_link(conn, exchange_id, sell_kind, sell_id, snapshot)
                except LinkConflictError:
                    link = None
                self._delete_intent(conn, intent)
                out[intent.id] = link
        return out

    def drop_intent(self, intent: Intent) -> None:
        with self._write() as conn:
            self._delete_intent(conn, intent)

    def adopted_snapshot(self, intent: Intent, found: Adopted) -> Snapshot:
        """Snapshot for a record a crashed run created: base = source values sent then."""
        source = intent.source_values
        if intent.direction == "exchange_to_sell":
            return Snapshot(
                base=source,
                exchange_values=source,
                exchange_modified=intent.source_modified,
                exchange_change_key=intent.source_change_key,
                sell_values=found.destination_values,
                sell_updated_at=found.destination_modified,
            )
        return Snapshot(
            base=source,
            sell_values=source,
            sell_updated_at=intent.source_modified,
            exchange_values=found.destination_values,
            exchange_modified=found.destination_modified,
            exchange_change_key=found.destination_change_key,
            categories=found.categories,
        )

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
                if found is None:
                    self._delete_intent(conn, intent)
                    outcomes.append(IntentOutcome(intent, "dropped"))
                    continue
                try:
                    link = self._insert_link(
                        conn,
                        found.exchange_id,
                        found.sell_kind,
                        found.sell_id,
                        self.adopted_snapshot(intent, found),
                    )
                except LinkConflictError:
                    self._delete_intent(conn, intent)
                    outcomes.append(IntentOutcome(intent, "already_linked"))
                else:
                    self._delete_intent(conn, intent)
                    outcomes.append(IntentOutcome(intent, "adopted", link))
        return outcomes

    # -- rejections (S10.1) ----------------------------------------------------------------------
    def _upsert(
        self, table: sa.Table, values: dict[str, Any], keys: list[str], update: dict
    ) -> Any:
        stmt = _INSERTS[self.dialect](table).values(**values)
        return stmt.on_conflict_do_update(
            index_elements=keys,
            set_={k: (stmt.excluded[k] if v is None else v) for k, v in update.items()},
        )

    def record_rejection(self, side: str, record_id: str, fp: str, reason: str) -> None:
        """Remember that ``side`` rejected this record version; counted per retry."""
        values = {
            "tenant": self.tenant,
            "side": side,
            "record_id": str(record_id),
            "fingerprint": fp,
            "reason": reason,
            "rejected_at": _now(),
            "attempts": 1,
        }
        stmt = self._upsert(
            s.rejections,
            values,
            ["tenant", "side", "record_id"],
            {
                "fingerprint": None,
                "reason": None,
                "rejected_at": None,
                "attempts": s.rejections.c.attempts + 1,
            },
        )
        with self._write() as conn:
            conn.execute(stmt)

    def rejections_for(self, side: str, record_ids: Iterable[str]) -> dict[str, Rejection]:
        ids = list(dict.fromkeys(str(i) for i in record_ids))
        out: dict[str, Rejection] = {}
        with self._read() as conn:
            for chunk in _in_chunks(ids):
                rows = conn.execute(
                    sa.select(s.rejections).where(
                        self._mine(s.rejections),
                        s.rejections.c.side == side,
                        s.rejections.c.record_id.in_(chunk),
                    )
                ).all()
                for r in rows:
                    m = r._mapping
                    out[m["record_id"]] = Rejection(
                        m["side"],
                        m["record_id"],
                        m["fingerprint"],
                        m["reason"],
                        m["rejected_at"],
                        m["attempts"],
                    )
        return out

    def should_retry(self, side: str, record_id: str, fp: str) -> bool:
        """False only while the record is unchanged since it was rejected."""
        found = self.rejections_for(side, [record_id]).get(str(record_id))
        return found is None or found.fingerprint != fp

    def clear_rejection(self, side: str, record_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                s.rejections.delete().where(
                    self._mine(s.rejections),
                    s.rejections.c.side == side,
                    s.rejections.c.record_id == str(record_id),
                )
            )

    # -- organisations (company names without Sell API access) -----------------------------------
    def remember_organizations(self, names: Mapping[int, str]) -> None:
        """Learn Sell organisation id → name from records seen (upsert, last one wins)."""
        if not names:
            return
        now = _now()
        with self._write() as conn:
            for org_id, name in names.items():
                if name is None:
                    continue
                values = {
                    "tenant": self.tenant,
                    "sell_id": int(org_id),
                    "name": name,
                    "updated_at": now,
                }
                stmt = self._upsert(
                    s.organizations,
                    values,
                    ["tenant", "sell_id"],
                    {"name": None, "updated_at": None},
                )
                conn.execute(stmt)

    def organization_names(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        query = sa.select(s.organizations.c.sell_id, s.organizations.c.name).where(
            self._mine(s.organizations)
        )
        if ids is not None:
            query = query.where(s.organizations.c.sell_id.in_([int(i) for i in ids]))
        with self._read() as conn:
            return {int(r[0]): r[1] for r in conn.execute(query)}

    # -- values that lost a conflict, kept in Sell (S5.2) ---------------------------------------
    def _enqueue_overwritten(
        self, conn: sa.Connection, entries: Iterable[OverwrittenValue]
    ) -> list[int]:
        now = _now()
        rows = []
        for e in entries:
            if e.sell_kind not in SELL_KINDS:
                msg = f"sell_kind must be one of {SELL_KINDS}, not {e.sell_kind!r}"
                raise ValueError(msg)
            rows.append(
                {
                    "tenant": self.tenant,
                    "sell_kind": e.sell_kind,
                    "sell_id": int(e.sell_id),
                    "exchange_id": e.exchange_id,
                    "field": e.field,
                    "value": e.value,
                    "origin": e.origin,
                    "origin_time": iso_utc(e.origin_time),
                    "recorded_at": now,
                    "status": "pending",
                }
            )
        ids = []
        for row in rows:  # one by one: the ids are returned on every backend
            ids.append(
                int(
                    conn.execute(s.overwritten_values.insert().values(**row)).inserted_primary_key[
                        0
                    ]
                )
            )
        return ids

    def enqueue_overwritten(self, entries: Iterable[OverwrittenValue]) -> list[int]:
        """Queue values that lost a conflict for the Sell side to keep (pending); returns ids.

        Prefer the ``overwritten=`` argument of :meth:`save_snapshot` / :meth:`create_link`,
        which queues in the transaction that records the merge.
        """
        with self._write() as conn:
            return self._enqueue_overwritten(conn, entries)

    @staticmethod
    def _overwritten_from_row(row: Any) -> OverwrittenValue:
        m = row._mapping
        return OverwrittenValue(
            sell_kind=m["sell_kind"],
            sell_id=int(m["sell_id"]),
            field=m["field"],
            value=m["value"],
            origin=m["origin"],
            origin_time=m["origin_time"],
            exchange_id=m["exchange_id"],
            id=int(m["id"]),
            status=m["status"],
            recorded_at=m["recorded_at"],
            delivered_at=m["delivered_at"],
        )

    def pending_overwritten(
        self,
        sell_kind: str | None = None,
        sell_ids: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> list[OverwrittenValue]:
        """This tenant's undelivered values, oldest first (optionally of some Sell records).

        The Sell-side target appends them (``contact_mapping.merge.append_overwritten`` on
        :meth:`OverwrittenValue.as_overwritten`) to the record's ``overwritten_values_field`` or
        a note, then calls :meth:`mark_overwritten_delivered` with their ids. Delivery is
        at-least-once: ``append_overwritten`` does not repeat a line already in the field.
        """
        t = s.overwritten_values
        query = sa.select(t).where(self._mine(t), t.c.status == "pending")
        if sell_kind is not None:
            query = query.where(t.c.sell_kind == sell_kind)
        if sell_ids is not None:
            query = query.where(t.c.sell_id.in_([int(i) for i in sell_ids]))
        query = query.order_by(t.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [self._overwritten_from_row(r) for r in conn.execute(query).all()]

    def mark_overwritten_delivered(self, ids: Iterable[int]) -> int:
        """Mark queued values as written to Sell; returns how many pending rows changed."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        t = s.overwritten_values
        changed = 0
        now = _now()
        with self._write() as conn:
            for chunk in _in_chunks(wanted):
                changed += conn.execute(
                    t.update()
                    .where(
                        self._mine(t),
                        t.c.status == "pending",
                        t.c.id.in_(chunk),
                    )
                    .values(status="delivered", delivered_at=now)
                ).rowcount
        return changed

    # -- runs ------------------------------------------------------------------------------------
    def start_run(self, target: str) -> int:
        with self._write() as conn:
            result = conn.execute(
                s.runs.insert().values(tenant=self.tenant, target=target, started_at=_now())
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, counts: Mapping[str, Any]) -> None:
        with self._write() as conn:
            updated = conn.execute(
                s.runs.update()
                .where(self._mine(s.runs), s.runs.c.id == run_id)
                .values(finished_at=_now(), counts=dict(counts))
            ).rowcount
        if updated == 0:
            msg = f"no run {run_id} for tenant {self.tenant!r}"
            raise LookupError(msg)

    def runs(self, target: str | None = None, limit: int = 20) -> list[Run]:
        query = sa.select(s.runs).where(self._mine(s.runs))
        if target:
            query = query.where(s.runs.c.target == target)
        with self._read() as conn:
            rows = conn.execute(query.order_by(s.runs.c.id.desc()).limit(limit)).all()
        return [Run(r.id, r.target, r.started_at, r.finished_at, r.counts) for r in rows]
