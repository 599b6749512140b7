"""One Sell account (tenant): its reference data, its records and the writes on them.

All state lives in memory and is touched only from the single aiohttp event loop, so no locks.
Validation happens before anything here is called; these methods apply already-checked changes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from sell_sandbox import statuses, tenant_key
from sell_sandbox.clock import AccountClock
from sell_sandbox.resources import (
    ADDRESS_KEYS,
    CONTACT,
    DEAL,
    FILTERABLE_CUSTOM_TYPES,
    LEAD,
    NOTE,
    Resource,
)

ACCOUNT_CREATED = "2019-03-04T09:15:00Z"
PIPELINE_NAME = "Sales Pipeline"
#: Default pipeline stages (reference §6, D-stages): name, category, active, position, likelihood.
DEFAULT_STAGES = (
    ("Prospecting", "incoming", True, 1, 5),
    ("Qualified", "in_progress", True, 2, 10),
    ("Quote", "in_progress", True, 3, 20),
    ("Closure", "in_progress", True, 7, 50),
    ("Won", "won", False, 8, 100),
    ("Lost", "lost", False, 9, 0),
    ("Unqualified", "unqualified", False, 10, 0),
)
LEAD_STATUSES = ("New", "Working", "Unqualified")
USERS = (
    ("Alex Admin", "admin", "admin"),
    ("Berta Vertrieb", "berta.vertrieb", "user"),
    ("Chen Wei", "chen.wei", "user"),
)


@dataclass(frozen=True)
class CustomFieldSpec:
    """A custom-field definition chosen at start (the API cannot create them)."""

    resource: str  # contact | lead | deal
    name: str
    type: str
    choices: tuple[str, ...] = ()

    @property
    def filterable(self) -> bool:
        return self.type in FILTERABLE_CUSTOM_TYPES


DEFAULT_CUSTOM_FIELDS = (
    CustomFieldSpec("contact", "Exchange ID", "string"),
    CustomFieldSpec("contact", "Overwritten values", "text"),
    CustomFieldSpec("lead", "Exchange ID", "string"),
    CustomFieldSpec("lead", "Overwritten values", "text"),
)


@dataclass
class Account:
    token: str = field(repr=False)
    custom_field_specs: tuple[CustomFieldSpec, ...] = ()
    key: str = ""
    clock: AccountClock = field(default_factory=AccountClock)
    tables: dict[str, dict[int, dict]] = field(default_factory=dict)
    versions: dict[tuple[str, int], int] = field(default_factory=dict)
    reference: dict[str, dict[int, dict]] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, dict]] = field(default_factory=dict)
    explicit_customer_status: dict[int, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    #: Lead conversions by id, and the conversion of each converted lead (immutable records).
    lead_conversions: dict[int, dict] = field(default_factory=dict)
    conversion_of_lead: dict[int, int] = field(default_factory=dict)
    #: Bumped on every write to a table; list handlers cache sorted orders per generation.
    generation: dict[str, int] = field(default_factory=dict)
    sort_cache: dict[tuple[str, str, bool], tuple[int, list[dict]]] = field(default_factory=dict)
    #: Serialised list items per record, valid while (version, updated_at) is unchanged.
    json_cache: dict[tuple[str, int], tuple[tuple[int, str], bytes]] = field(default_factory=dict)
    #: While seeding: contacts whose statuses must be derived once the deals are in.
    _deferred_statuses: set[int | None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.key = tenant_key(self.token)
        # Disjoint id ranges per tenant make a record id from another tenant a 404, not a hit.
        self._next_id = (int(self.key, 16) % 9000 + 1000) * 10_000_000
        self.clock.observe(ACCOUNT_CREATED)
        self.tables = {r.path: {} for r in (CONTACT, LEAD, DEAL, NOTE)}
        self._build_reference()

    # -- ids and reference data --------------------------------------------------------------

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _stamped(self, **values: object) -> dict:
        return {
            "id": self.new_id(),
            **values,
            "created_at": ACCOUNT_CREATED,
            "updated_at": ACCOUNT_CREATED,
        }

    def _build_reference(self) -> None:
        domain = f"tenant-{self.key[:6]}.example.com"
        self.info = self._stamped(
            name=f"Sandbox account {self.key[:6]}",
            currency="USD",
            time_format="24H",
            timezone="UTC+00:00",
            phone="+1 555 0100",
        )
        users = [
            self._stamped(
                name=name,
                email=f"{local}@{domain}",
                status="active",
                role=role,
                confirmed=True,
                invited=False,
                timezone="UTC",
                team_name="Sales",
            )
            for name, local, role in USERS
        ]
        pipeline = self._stamped(name=PIPELINE_NAME, disabled=False)
        stages = [
            self._stamped(
                name=name,
                category=category,
                active=active,
                position=position,
                likelihood=likelihood,
                pipeline_id=pipeline["id"],
            )
            for name, category, active, position, likelihood in DEFAULT_STAGES
        ]
        lead_statuses = [self._stamped(name=name) for name in LEAD_STATUSES]
        self.reference = {
            "users": {u["id"]: u for u in users},
            "pipelines": {pipeline["id"]: pipeline},
            "stages": {s["id"]: s for s in stages},
            "lead_statuses": {s["id"]: s for s in lead_statuses},
        }
        self.custom_fields = {"contact": {}, "lead": {}, "deal": {}}
        for spec in self.custom_field_specs:
            definition = self._stamped(name=spec.name, type=spec.type)
            if spec.type in ("list", "multi_select_list"):
                definition["choices"] = [
                    {"id": self.new_id(), "name": choice} for choice in spec.choices
                ]
            definition["for_company"] = spec.resource == "contact"
            if spec.resource == "contact":
                definition["for_contact"] = True
            self.custom_fields[spec.resource][spec.name] = {"spec": spec, "json": definition}

    @property
    def self_user(self) -> dict:
        return next(iter(self.reference["users"].values()))

    @property
    def stages(self) -> dict[int, dict]:
        return self.reference["stages"]

    def first_stage_id(self) -> int:
        return min(self.stages.values(), key=lambda s: s["position"])["id"]

    def stage_id_by_category(self, category: str) -> int:
        return next(s["id"] for s in self.stages.values() if s["category"] == category)

    # -- records -----------------------------------------------------------------------------

    def get(self, resource: Resource, ident: int) -> dict | None:
        return self.tables[resource.path].get(ident)

    def version(self, resource: Resource, ident: int) -> int:
        return self.versions.get((resource.path, ident), 1)

    def view(self, resource: Resource, record: dict) -> dict:
        """The API representation: a shallow copy, serialised at once (never mutated)."""
        out = dict(record)
        statuses_none = record.get("prospect_status") == record.get("customer_status") == "none"
        if resource is CONTACT and statuses_none:
            # Only prospects and customers carry billing/shipping addresses (reference §3).
            out["billing_address"] = None
            out["shipping_address"] = None
        return out

    def create(self, resource: Resource, values: dict, *, stamp: str | None = None) -> dict:
        now = stamp or self.clock.tick()
        if stamp:
            self.clock.observe(stamp)
        record = self._defaults(resource, now)
        record.update(values)
        self._normalise(resource, record, values, now, created=True)
        self.tables[resource.path][record["id"]] = record
        self._touch(resource.path)
        self.versions[(resource.path, record["id"])] = 1
        self._after_write(resource, record, previous=None, bump=stamp is None)
        return record

    def update(self, resource: Resource, record: dict, values: dict) -> dict:
        previous = copy.deepcopy(record)
        now = self.clock.tick()
        for key, value in values.items():
            if key in ("address", "billing_address", "shipping_address") and value is not None:
                merged = dict(record.get(key) or dict.fromkeys(ADDRESS_KEYS))
                merged.update(value)
                record[key] = merged
            elif key == "custom_fields":
                merged_cf = dict(record["custom_fields"])
                merged_cf.update(value)
                record["custom_fields"] = {k: v for k, v in merged_cf.items() if v is not None}
            else:
                record[key] = value
        self._normalise(resource, record, values, now, created=False)
        record["updated_at"] = now
        self._touch(resource.path)
        self.versions[(resource.path, record["id"])] = self.version(resource, record["id"]) + 1
        self._after_write(resource, record, previous=previous)
        return record

    def delete(self, resource: Resource, record: dict) -> None:
        del self.tables[resource.path][record["id"]]
        self.json_cache.pop((resource.path, record["id"]), None)
        self._touch(resource.path)
        self.versions.pop((resource.path, record["id"]), None)
        notes = self.tables[NOTE.path]
        for note in [n for n in notes.values() if n["resource_id"] == record["id"]]:
            if note["resource_type"] == resource.name:
                del notes[note["id"]]
        if resource is CONTACT:
            self.explicit_customer_status.pop(record["id"], None)
            for other in list(self.tables[CONTACT.path].values()):
                cleared = {
                    k: None
                    for k in ("contact_id", "parent_organization_id")
                    if other.get(k) == record["id"]
                }
                if cleared:
                    self.update(CONTACT, other, cleared)
        if resource is DEAL:
            self._refresh_statuses({record["contact_id"], record["organization_id"]})

    def item_json(self, resource: Resource, record: dict) -> bytes:
        """A list item as JSON bytes; lists re-serialise only records that changed."""
        key = (resource.path, record["id"])
        stamp = (self.version(resource, record["id"]), record["updated_at"])
        cached = self.json_cache.get(key)
        if cached is None or cached[0] != stamp:
            item = {
                "data": self.view(resource, record),
                "meta": {"type": resource.name, "version": stamp[0]},
            }
            cached = (stamp, json.dumps(item, ensure_ascii=False).encode("utf-8"))
            self.json_cache[key] = cached
        return cached[1]

    def sorted_records(
        self, path: str, field: str, descending: bool, sort: Callable[[list[dict]], list[dict]]
    ) -> list[dict]:
        """All records of a table in list order, re-sorted only after a write."""
        key = (path, field, descending)
        generation = self.generation.get(path, 0)
        cached = self.sort_cache.get(key)
        if cached is None or cached[0] != generation:
            cached = (generation, sort(list(self.tables[path].values())))
            self.sort_cache[key] = cached
        return cached[1]

    # -- internals ---------------------------------------------------------------------------

    def _touch(self, path: str) -> None:
        self.generation[path] = self.generation.get(path, 0) + 1

    def _defaults(self, resource: Resource, now: str) -> dict:
        record: dict = dict.fromkeys(resource.attrs)
        record.update(id=self.new_id(), creator_id=self.self_user["id"])
        record.update(created_at=now, updated_at=now)
        if "owner_id" in record:
            record["owner_id"] = self.self_user["id"]
        if "tags" in record:
            record["tags"] = []
        if "custom_fields" in record:
            record["custom_fields"] = {}
        if "address" in record:
            record["address"] = dict.fromkeys(ADDRESS_KEYS)
        if resource is CONTACT:
            record.update(is_organization=False, customer_status="none", prospect_status="none")
        elif resource is LEAD:
            record["status"] = LEAD_STATUSES[0]
        elif resource is DEAL:
            record.update(
                hot=False,
                currency=self.info["currency"],
                value="0.00",
                stage_id=self.first_stage_id(),
                last_stage_change_at=now,
                last_stage_change_by_id=self.self_user["id"],
                added_at=now,
                dropbox_email=f"deal{record['id']}@dropbox.sell-sandbox.invalid",
            )
        return record

    def _normalise(
        self, resource: Resource, record: dict, values: dict, now: str, *, created: bool
    ) -> None:
        if "tags" in values:
            record["tags"] = list(dict.fromkeys(values["tags"]))
        for key in ("address", "billing_address", "shipping_address"):
            if key in values and created and values[key] is not None:
                record[key] = {**dict.fromkeys(ADDRESS_KEYS), **values[key]}
        if record.get("address", {}) is None:
            record["address"] = dict.fromkeys(ADDRESS_KEYS)
        if "custom_fields" in values and created:
            record["custom_fields"] = {
                k: v for k, v in values["custom_fields"].items() if v is not None
            }
        if resource is CONTACT:
            if "customer_status" in values:
                self.explicit_customer_status[record["id"]] = values["customer_status"]
            if not record["is_organization"]:
                parts = [record.get("first_name"), record.get("last_name")]
                record["name"] = " ".join(p for p in parts if p) or None
        if resource is DEAL:
            if values.get("value") is not None:
                record["value"] = f"{Decimal(str(values['value'])):.2f}"
            if "stage_id" in values and not created:
                record["last_stage_change_at"] = now
                record["last_stage_change_by_id"] = self.self_user["id"]
            record["organization_id"] = self._organization_of(record.get("contact_id"))

    def _organization_of(self, contact_id: int | None) -> int | None:
        contact = self.tables[CONTACT.path].get(contact_id) if contact_id else None
        if contact is None:
            return None
        return contact["id"] if contact["is_organization"] else contact.get("contact_id")

    def _after_write(
        self, resource: Resource, record: dict, previous: dict | None, *, bump: bool = True
    ) -> None:
        if resource is not DEAL:
            return
        touched = {record["contact_id"], record["organization_id"]}
        if previous is not None:
            touched |= {previous["contact_id"], previous["organization_id"]}
        if self._deferred_statuses is not None:
            self._deferred_statuses |= touched
            return
        self._refresh_statuses(touched, bump=bump)

    @contextmanager
    def deferred_statuses(self) -> Iterator[None]:
        """Seeding: derive the statuses of every touched contact once, at the end (one pass)."""
        self._deferred_statuses = set()
        try:
            yield
        finally:
            touched, self._deferred_statuses = self._deferred_statuses, None
            self._refresh_statuses(touched, bump=False)

    def _refresh_statuses(self, contact_ids: set[int | None], *, bump: bool = True) -> None:
        """Re-derive statuses; a contact whose statuses change gets a new ``updated_at``.

        Seeding passes ``bump=False``: seeded statuses are part of the historical state.
        """
        contacts = self.tables[CONTACT.path]
        wanted = {c for c in contact_ids if c and c in contacts}
        by_contact: dict[int, list[str]] = {c: [] for c in wanted}
        for deal in self.tables[DEAL.path].values():  # one pass for all touched contacts
            for owner in {deal["contact_id"], deal["organization_id"]} & wanted:
                by_contact[owner].append(self.stages[deal["stage_id"]]["category"])
        for contact_id in wanted:
            contact = contacts[contact_id]
            categories = by_contact[contact_id]
            derived = {
                "prospect_status": statuses.prospect_status(categories),
                "customer_status": statuses.customer_status(
                    categories, self.explicit_customer_status.get(contact_id)
                ),
            }
            if any(contact[k] != v for k, v in derived.items()):
                contact.update(derived)
                self._touch(CONTACT.path)
                if not bump:
                    continue
                contact["updated_at"] = self.clock.tick()
                key = (CONTACT.path, contact_id)
                self.versions[key] = self.versions.get(key, 1) + 1
