"""List queries: filters, ``sort_by``, pagination and the collection envelope (reference §2.2, §3).

String filters compare exactly but case-insensitively (the reference leaves the semantics open;
case-insensitive is the forgiving reading for e-mail and names). ``inclusive=false`` ORs filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from yarl import URL

from sell_sandbox.account import Account
from sell_sandbox.errors import invalid_param, malformed_param
from sell_sandbox.resources import ADDRESS_KEYS, Resource

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
PAGING_PARAMS = frozenset({"page", "per_page", "sort_by"})

Predicate = Callable[[dict], bool]


@dataclass
class ListQuery:
    predicates: list[Predicate]
    inclusive: bool
    sort_field: str
    descending: bool
    page: int
    per_page: int

    @property
    def has_filters(self) -> bool:
        return bool(self.predicates)

    def matches(self, record: dict) -> bool:
        if not self.predicates:
            return True
        if self.inclusive:
            return all(p(record) for p in self.predicates)
        return any(p(record) for p in self.predicates)

    def select(self, records: Iterable[dict]) -> list[dict]:
        return self.sort([r for r in records if self.matches(r)])

    def sort(self, records: list[dict]) -> list[dict]:
        return sort_records(records, self.sort_field, self.descending)


def _fold(value: object) -> str:
    return str(value).casefold()


def _sort_key(field: str) -> Callable[[dict], tuple]:
    def key(record: dict) -> tuple:
        value = record.get(field)
        if value is None:
            return (1, 0)
        if field == "value":
            return (0, Decimal(str(value)))
        if isinstance(value, str):
            return (0, value.casefold())
        return (0, value)

    return key


def sort_records(records: list[dict], field: str, descending: bool) -> list[dict]:
    """Sort by ``field``; ties keep ascending id order in both directions (stable sort)."""
    records.sort(key=lambda r: r["id"])
    if field != "id" or descending:
        key = _sort_key(field)
        if descending:
            # Nulls first when descending, last when ascending (like SQL's default).
            records.sort(key=key, reverse=True)
        else:
            records.sort(key=key)
    return records


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise malformed_param(name, f"must be an integer, given: {raw}") from None


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise malformed_param(name, f"must be true or false, given: {raw}")


def _filter_predicate(name: str, attr: str, kind: str, raw: str) -> Predicate | None:
    if kind == "ignored":
        return None
    if kind == "ids":
        try:
            wanted = {int(part) for part in raw.split(",") if part.strip()}
        except ValueError:
            raise malformed_param(name, f"must be comma-separated integers, given: {raw}") from None
        return lambda r: r["id"] in wanted
    if kind == "integer":
        number = _int(name, raw)
        return lambda r: r.get(attr) == number
    if kind == "boolean":
        flag = _bool(name, raw)
        return lambda r: r.get(attr) is flag
    if kind == "q":
        needle = raw.casefold()
        return lambda r: needle in _fold(r.get(attr) or "")
    folded = raw.casefold()
    return lambda r: r.get(attr) is not None and _fold(r[attr]) == folded


def _custom_predicate(account: Account, resource: Resource, name: str, raw: str) -> Predicate:
    field_name = name[len("custom_fields[") : -1]
    defined = account.custom_fields.get(resource.name, {}).get(field_name)
    if defined is None or not defined["spec"].filterable:
        raise invalid_param(
            f"The request query parameter '{name}' is not a filterable custom field"
            f" of the '{resource.name}' resource."
        )
    folded = raw.casefold()

    def predicate(record: dict) -> bool:
        value = record.get("custom_fields", {}).get(field_name)
        if isinstance(value, list):
            return any(_fold(v) == folded for v in value)
        return value is not None and _fold(value) == folded

    return predicate


def _address_predicate(name: str) -> tuple[str, str] | None:
    if "[" not in name or not name.endswith("]"):
        return None
    attr, _, key = name[:-1].partition("[")
    return (attr, key)


def parse_list_query(
    query: Mapping[str, str],
    resource: Resource,
    account: Account | None,
    *,
    paging: bool = True,
) -> ListQuery:
    """Validate every query parameter; anything unknown is a 400 like the real API."""
    predicates: list[Predicate] = []
    inclusive = True
    for name, raw in query.items():
        if name in PAGING_PARAMS and paging:
            continue
        if name in resource.filters:
            spec = resource.filters[name]
            predicate = _filter_predicate(name, spec.attr, spec.kind, raw)
            if predicate is not None:
                predicates.append(predicate)
            continue
        if name == "inclusive" and resource.custom_fields:
            inclusive = _bool(name, raw)
            continue
        if name.startswith("custom_fields[") and name.endswith("]") and resource.custom_fields:
            assert account is not None
            predicates.append(_custom_predicate(account, resource, name, raw))
            continue
        address = _address_predicate(name)
        if address and address[0] in resource.address_filters and address[1] in ADDRESS_KEYS:
            attr, key = address
            folded = raw.casefold()
            predicates.append(
                lambda r, attr=attr, key=key, folded=folded: (
                    (r.get(attr) or {}).get(key) is not None and _fold(r[attr][key]) == folded
                )
            )
            continue
        raise invalid_param(
            f"The request query parameter '{name}' is not supported by the '{resource.path}' list."
        )
    sort_field, descending = _parse_sort(query.get("sort_by", resource.default_sort), resource)
    page = _int("page", query.get("page", "1")) if paging else 1
    if page < 1:
        raise malformed_param("page", f"must be 1 or greater, given: {page}")
    per_page = _int("per_page", query.get("per_page", str(DEFAULT_PER_PAGE))) if paging else 100
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise malformed_param("per_page", f"must be between 1 and 100, given: {per_page}")
    return ListQuery(predicates, inclusive, sort_field, descending, page, per_page)


def _parse_sort(raw: str, resource: Resource) -> tuple[str, bool]:
    field, _, direction = raw.partition(":")
    direction = direction or "asc"
    if field not in resource.sortable or direction not in ("asc", "desc"):
        raise malformed_param(
            "sort_by",
            f"must be one of {', '.join(resource.sortable)} optionally followed by :asc or"
            f" :desc, given: {raw}",
        )
    return field, direction == "desc"


def collection_page(selected: list[dict], query: ListQuery, url: URL) -> tuple[list[dict], dict]:
    """One page of records and the collection ``meta``; ``next_page`` only when more exist."""
    start = (query.page - 1) * query.per_page
    page_items = selected[start : start + query.per_page]

    def link(page: int) -> str:
        return str(url.update_query(page=str(page), per_page=str(query.per_page)))

    links = {"self": link(query.page), "first_page": link(1)}
    if query.page > 1:
        links["prev_page"] = link(query.page - 1)
    if start + query.per_page < len(selected):
        links["next_page"] = link(query.page + 1)
    return page_items, {"type": "collection", "count": len(page_items), "links": links}


def collection(
    selected: list[dict], query: ListQuery, url: URL, item: Callable[[dict], dict]
) -> dict:
    """The collection envelope (reference §2.2)."""
    page_items, meta = collection_page(selected, query, url)
    return {"items": [item(r) for r in page_items], "meta": meta}
