"""What each Sell resource holds, accepts and can be listed by (reference §3-§6).

One table per resource keeps validation, filtering and sorting in agreement with each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADDRESS_KEYS = ("line1", "city", "postal_code", "state", "country")
CUSTOMER_STATUSES = ("none", "current", "past")
PROSPECT_STATUSES = ("none", "current", "lost")
NOTE_RESOURCE_TYPES = ("lead", "contact", "deal")
#: Custom-field types a list filter may use ("Filterable" fields, reference §3).
FILTERABLE_CUSTOM_TYPES = ("string", "number", "list", "multi_select_list")
CUSTOM_FIELD_TYPES = (
    "address",
    "bool",
    "date",
    "datetime",
    "email",
    "list",
    "multi_select_list",
    "number",
    "phone",
    "string",
    "text",
    "url",
)
CUSTOM_FIELD_RESOURCES = ("contact", "lead", "deal")


@dataclass(frozen=True)
class Attr:
    """One attribute: ``kind`` drives type checks, ``choices`` closes an enum."""

    kind: str  # string | integer | boolean | decimal | address | tags | custom_fields | enum
    read_only: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filter:
    """A list query parameter: which attribute it compares and how the value is parsed."""

    attr: str
    kind: str  # text | integer | boolean | enum | ids | q | ignored


@dataclass(frozen=True)
class Resource:
    name: str  # singular, the ``meta.type`` of items
    path: str  # plural, the URL segment under /v2
    attrs: dict[str, Attr]
    filters: dict[str, Filter]
    sortable: tuple[str, ...]
    default_sort: str
    writable: bool = True
    address_filters: tuple[str, ...] = ()
    custom_fields: bool = False
    extra: dict[str, object] = field(default_factory=dict)


S = Attr("string")
INT = Attr("integer")
RO_INT = Attr("integer", read_only=True)
RO_STR = Attr("string", read_only=True)
BOOL = Attr("boolean")
ADDRESS = Attr("address")
TAGS = Attr("tags")
CUSTOM = Attr("custom_fields")

_SOCIAL = dict.fromkeys(("twitter", "facebook", "linkedin", "skype"), S)
_COMMON_PARTY = {
    "title": S,
    "description": S,
    "industry": S,
    "website": S,
    "email": S,
    "phone": S,
    "mobile": S,
    "fax": S,
    **_SOCIAL,
}
_STAMPS = {"id": RO_INT, "creator_id": RO_INT, "created_at": RO_STR, "updated_at": RO_STR}


def _text_filters(*names: str) -> dict[str, Filter]:
    return {n: Filter(n, "text") for n in names}


def _int_filters(*names: str) -> dict[str, Filter]:
    return {n: Filter(n, "integer") for n in names}


CONTACT = Resource(
    name="contact",
    path="contacts",
    attrs={
        **_STAMPS,
        "owner_id": INT,
        "is_organization": BOOL,
        "contact_id": INT,
        "parent_organization_id": INT,
        "name": S,
        "first_name": S,
        "last_name": S,
        "customer_status": Attr("enum", choices=CUSTOMER_STATUSES),
        "prospect_status": Attr("enum", choices=PROSPECT_STATUSES),
        **_COMMON_PARTY,
        "address": ADDRESS,
        "billing_address": ADDRESS,
        "shipping_address": ADDRESS,
        "tags": TAGS,
        "custom_fields": CUSTOM,
    },
    filters={
        "ids": Filter("id", "ids"),
        **_text_filters("email", "name", "first_name", "last_name", "phone", "mobile"),
        **_int_filters("contact_id", "creator_id", "owner_id"),
        "is_organization": Filter("is_organization", "boolean"),
        "customer_status": Filter("customer_status", "enum"),
        "prospect_status": Filter("prospect_status", "enum"),
    },
    address_filters=("address", "billing_address", "shipping_address"),
    sortable=(
        "id",
        "created_at",
        "updated_at",
        "name",
        "first_name",
        "last_name",
        "email",
        "customer_status",
        "prospect_status",
    ),
    default_sort="last_name:asc",
    custom_fields=True,
)

LEAD = Resource(
    name="lead",
    path="leads",
    attrs={
        **_STAMPS,
        "owner_id": INT,
        "first_name": S,
        "last_name": S,
        "organization_name": S,
        "status": S,
        "source_id": INT,
        "unqualified_reason_id": INT,
        **_COMMON_PARTY,
        "address": ADDRESS,
        "tags": TAGS,
        "custom_fields": CUSTOM,
    },
    filters={
        "ids": Filter("id", "ids"),
        **_text_filters(
            "first_name", "last_name", "organization_name", "status", "email", "phone", "mobile"
        ),
        **_int_filters("creator_id", "owner_id", "source_id"),
    },
    address_filters=("address",),
    sortable=(
        "id",
        "created_at",
        "updated_at",
        "first_name",
        "last_name",
        "organization_name",
        "status",
        "email",
    ),
    default_sort="updated_at:asc",
    custom_fields=True,
)

DEAL = Resource(
    name="deal",
    path="deals",
    attrs={
        **_STAMPS,
        "owner_id": INT,
        "name": S,
        "value": Attr("decimal"),
        "currency": S,
        "hot": BOOL,
        "stage_id": INT,
        "contact_id": INT,
        "organization_id": RO_INT,
        "source_id": INT,
        "loss_reason_id": INT,
        "unqualified_reason_id": INT,
        "estimated_close_date": S,
        "customized_win_likelihood": INT,
        "last_stage_change_at": S,
        "last_stage_change_by_id": RO_INT,
        "last_activity_at": RO_STR,
        "dropbox_email": RO_STR,
        "added_at": RO_STR,
        "tags": TAGS,
        "custom_fields": CUSTOM,
    },
    filters={
        "ids": Filter("id", "ids"),
        **_int_filters(
            "contact_id", "creator_id", "organization_id", "owner_id", "source_id", "stage_id"
        ),
        "hot": Filter("hot", "boolean"),
        **_text_filters("estimated_close_date", "name", "value"),
        "includes": Filter("", "ignored"),
    },
    sortable=(
        "id",
        "name",
        "value",
        "created_at",
        "updated_at",
        "stage_id",
        "contact_id",
        "owner_id",
        "estimated_close_date",
        "last_stage_change_at",
    ),
    default_sort="id:asc",
    custom_fields=True,
)

NOTE = Resource(
    name="note",
    path="notes",
    attrs={
        **_STAMPS,
        "content": S,
        "resource_type": Attr("enum", choices=NOTE_RESOURCE_TYPES),
        "resource_id": INT,
    },
    filters={
        "ids": Filter("id", "ids"),
        **_int_filters("creator_id", "resource_id"),
        "resource_type": Filter("resource_type", "enum"),
        "q": Filter("content", "q"),
        "includes": Filter("", "ignored"),
    },
    sortable=("id", "created_at", "updated_at", "resource_type", "resource_id"),
    default_sort="updated_at:asc",
)

USER = Resource(
    name="user",
    path="users",
    attrs={},
    filters={
        "ids": Filter("id", "ids"),
        **_text_filters("email", "name", "role", "status"),
        "confirmed": Filter("confirmed", "boolean"),
    },
    sortable=("id", "name", "email", "created_at", "updated_at"),
    default_sort="id:asc",
    writable=False,
)

STAGE = Resource(
    name="stage",
    path="stages",
    attrs={},
    filters={
        "ids": Filter("id", "ids"),
        "pipeline_id": Filter("pipeline_id", "integer"),
        "name": Filter("name", "text"),
        "active": Filter("active", "boolean"),
    },
    sortable=("pipeline_id", "id", "name", "category", "position", "likelihood"),
    default_sort="id:asc",
    writable=False,
)

PIPELINE = Resource(
    name="pipeline",
    path="pipelines",
    attrs={},
    filters={
        "ids": Filter("id", "ids"),
        "name": Filter("name", "text"),
        "disabled": Filter("disabled", "boolean"),
    },
    sortable=("id", "name", "created_at", "updated_at"),
    default_sort="id:asc",
    writable=False,
)

LEAD_STATUS = Resource(
    name="lead_status",
    path="lead_statuses",
    attrs={},
    filters={"ids": Filter("id", "ids"), "name": Filter("name", "text")},
    sortable=("id", "name", "created_at", "updated_at"),
    default_sort="id:asc",
    writable=False,
)

#: Lead conversions (resource page D-lc): read-only records made by ``POST /v2/lead_conversions``,
#: listed newest first (id descending) and filtered by the ids they link. Not in ``ALL``: the list
#: pages by ``cursor`` as well as ``page`` and has no ``sort_by`` (see ``lead_conversions.py``).
LEAD_CONVERSION = Resource(
    name="lead_conversion",
    path="lead_conversions",
    attrs={
        "id": RO_INT,
        "lead_id": RO_INT,
        "individual_id": RO_INT,
        "organization_id": RO_INT,
        "deal_id": RO_INT,
        "creator_id": RO_INT,
        "created_at": RO_STR,
    },
    filters=_int_filters("lead_id", "individual_id", "organization_id", "deal_id"),
    sortable=("id",),
    default_sort="id:desc",
    writable=False,
)

WRITABLE = {r.path: r for r in (CONTACT, LEAD, DEAL, NOTE)}
READ_ONLY = {r.path: r for r in (USER, STAGE, PIPELINE, LEAD_STATUS)}
ALL = {**WRITABLE, **READ_ONLY}
BY_NAME = {r.name: r for r in ALL.values()}
