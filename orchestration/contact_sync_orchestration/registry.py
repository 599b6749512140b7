"""The tenant registry: one PostgreSQL row per tenant, added and removed while everything runs.

A row holds what a tenant's two-way sync needs besides secrets (S15.1): its Exchange connection
(non-secret settings of both Exchange plugins), the categories to sync, its Sell settings, and
**references** to its secrets (``env:VARIABLE`` or ``file:PATH``, resolved on the worker that runs
it). A literal secret is refused. The orchestrator reads the registry at every sensor tick, so no
``meltano.yml`` edit and no restart is needed to add, pause or remove a tenant.

The same database holds the tenants' run locks (``run_guard``): a session-level advisory lock
per tenant, so two runs of one tenant can never overlap, whatever Dagster believes (S15.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Non-secret settings of both Exchange plugins and of the Sell plugins a registry row may hold
# (SPEC §3 names). Anything else is refused, so a typo fails at `add`, not at 3 a.m.
EXCHANGE_SETTINGS = frozenset(
    {
        "protocol",
        "primary_smtp_address",
        "username",
        "auth_type",
        "client_id",
        "tenant_id",
        "service_endpoint",
        "server",
        "autodiscover",
        "server_version",
        "verify_ssl",
        "ca_bundle",
        "graph_url",
        "authority_url",
        "folder",
        "start_date",
        "retry_max_wait",
    }
)
SELL_SETTINGS = frozenset(
    {
        "api_url",
        "start_date",
        "overwritten_values_field",
        "exchange_id_field",
        "create_companies",
        "requests_per_second",
        "verify_ssl",
        "ca_bundle",
    }
)
# Secret settings, by the registry's name: (system, Meltano setting name).
SECRET_SETTINGS: Mapping[str, tuple[str, str]] = {
    "exchange_password": ("exchange", "password"),
    "exchange_client_secret": ("exchange", "client_secret"),
    "exchange_access_token": ("exchange", "access_token"),
    "sell_api_token": ("sell", "api_token"),
}
REFERENCE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")


class RegistryError(ValueError):
    """A tenant definition or a registry operation that cannot be accepted (message says why)."""


metadata = sa.MetaData()
tenants = sa.Table(
    "contact_sync_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("exchange", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("sell", sa.JSON, nullable=False),
    sa.Column("secrets", sa.JSON, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, default=False),
    # Set when a run failed on bad configuration (S10.3): the tenant is not retried until
    # someone fixes it and runs `contact-sync-tenants resume`.
    sa.Column("attention", sa.Text),
    sa.Column("attention_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
# One row per attempt at running a tenant: where its processes live, so the next attempt can
# make sure none of them survives (run_guard) before it starts.
attempts = sa.Table(
    "contact_sync_attempts",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False),
    sa.Column("pgid", sa.Integer),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Tenant:
    """One tenant: an Exchange mailbox paired with a Sell account."""

    tenant_id: str
    exchange: dict[str, Any]
    categories: list[str]
    sell: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    paused: bool = False
    attention: str | None = None

    def validate(self) -> Tenant:
        """Refuse what could never run, and any secret given as a value instead of a reference."""
        if not TENANT_ID.match(self.tenant_id):
            msg = (
                f"tenant id {self.tenant_id!r}: use 1-63 lower-case letters, digits, '-' or '_',"
                " starting with a letter or digit"
            )
            raise RegistryError(msg)
        for name, allowed, values in (
            ("exchange", EXCHANGE_SETTINGS, self.exchange),
            ("sell", SELL_SETTINGS, self.sell),
        ):
            unknown = sorted(set(values) - allowed)
            if unknown:
                msg = f"unknown {name} setting(s) {unknown}; allowed: {sorted(allowed)}"
                raise RegistryError(msg)
        if not self.exchange.get("primary_smtp_address"):
            raise RegistryError("exchange setting primary_smtp_address is required")
        if not self.sell.get("api_url"):
            raise RegistryError("sell setting api_url is required")
        if not self.categories or not all(isinstance(c, str) and c for c in self.categories):
            raise RegistryError("categories: give at least one Exchange category")
        for name, reference in self.secrets.items():
            if name not in SECRET_SETTINGS:
                msg = f"unknown secret {name!r}; allowed: {sorted(SECRET_SETTINGS)}"
                raise RegistryError(msg)
            if not isinstance(reference, str) or not REFERENCE.match(reference):
                # Never echo the value: it may be the secret itself.
                msg = (
                    f"secret {name} must be a reference, env:VARIABLE or file:PATH; the registry"
                    " never stores a secret (S15.1)"
                )
                raise RegistryError(msg)
        if "sell_api_token" not in self.secrets:
            raise RegistryError("secret sell_api_token is required (env:VARIABLE or file:PATH)")
        return self

    def describe(self) -> dict[str, Any]:
        """The row as plain JSON (what `show` prints): references, never secret values."""
        return {
            "tenant_id": self.tenant_id,
            "exchange": self.exchange,
            "categories": self.categories,
            "sell": self.sell,
            "secrets": self.secrets,
            "paused": self.paused,
            "attention": self.attention,
        }


def engine_for(url: str) -> sa.Engine:
    """An engine on the registry database; any PostgreSQL URL form is driven by psycopg2 here."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return sa.create_engine(parsed, pool_pre_ping=True)


class Registry:
    """Tenant rows on one database (created on first use, idempotently)."""

    def __init__(self, url: str) -> None:
        self.engine = engine_for(url)
        metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def add(self, tenant: Tenant, *, replace: bool = False) -> None:
        tenant.validate()
        row = {
            "tenant_id": tenant.tenant_id,
            "exchange": tenant.exchange,
            "categories": tenant.categories,
            "sell": tenant.sell,
            "secrets": tenant.secrets,
            "paused": tenant.paused,
            "updated_at": _now(),
        }
        with self.engine.begin() as db:
            exists = db.execute(
                sa.select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant.tenant_id)
            ).first()
            if exists and not replace:
                msg = f"tenant {tenant.tenant_id} exists (use --replace to change it)"
                raise RegistryError(msg)
            if exists:
                db.execute(
                    tenants.update()
                    .where(tenants.c.tenant_id == tenant.tenant_id)
                    .values(**row, attention=None, attention_at=None)
                )
            else:
                db.execute(tenants.insert().values(**row, created_at=_now()))

    def remove(self, tenant_id: str) -> None:
        with self.engine.begin() as db:
            gone = db.execute(tenants.delete().where(tenants.c.tenant_id == tenant_id)).rowcount
            db.execute(attempts.delete().where(attempts.c.tenant_id == tenant_id))
        if not gone:
            raise RegistryError(f"no tenant {tenant_id}")

    def get(self, tenant_id: str) -> Tenant:
        with self.engine.connect() as db:
            row = db.execute(tenants.select().where(tenants.c.tenant_id == tenant_id)).first()
        if row is None:
            raise RegistryError(f"no tenant {tenant_id}")
        return _tenant(row)

    def all(self) -> list[Tenant]:
        with self.engine.connect() as db:
            rows = db.execute(tenants.select().order_by(tenants.c.tenant_id)).all()
        return [_tenant(r) for r in rows]

    def due(self) -> Iterator[Tenant]:
        """Tenants a tick should run: not paused and not waiting for someone's attention."""
        return (t for t in self.all() if not t.paused and t.attention is None)

    def set_paused(self, tenant_id: str, *, paused: bool) -> None:
        values: dict[str, Any] = {"paused": paused, "updated_at": _now()}
        if not paused:  # resuming is how an operator says "fixed, try again"
            values |= {"attention": None, "attention_at": None}
        self._update(tenant_id, values)

    def mark_attention(self, tenant_id: str, message: str) -> None:
        """Stop scheduling a tenant whose configuration is wrong (S10.3) until it is resumed."""
        self._update(tenant_id, {"attention": message, "attention_at": _now()})

    def _update(self, tenant_id: str, values: dict[str, Any]) -> None:
        with self.engine.begin() as db:
            changed = db.execute(
                tenants.update().where(tenants.c.tenant_id == tenant_id).values(**values)
            ).rowcount
        if not changed:
            raise RegistryError(f"no tenant {tenant_id}")


def _tenant(row: sa.Row) -> Tenant:
    def loaded(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return Tenant(
        tenant_id=row.tenant_id,
        exchange=loaded(row.exchange),
        categories=loaded(row.categories),
        sell=loaded(row.sell),
        secrets=loaded(row.secrets),
        paused=row.paused,
        attention=row.attention,
    )
