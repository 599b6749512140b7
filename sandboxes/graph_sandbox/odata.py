"""The OData query options Graph's contact endpoints take, and extended property ids.

``$filter`` is the small grammar the reference lists for contacts (§1, §4): ``emailAddresses/any``
on ``address`` and ``singleValueExtendedProperties/any`` on ``id`` and ``value``; anything else is
refused. It is parsed here because no OData library fits: odata-query pins python-dateutil<3
(this repository pins 4.x) and odata-v4-query has no lambda operators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ews_sandbox.store import ExtKey

from graph_sandbox.errors import GraphError, bad_request

# MAPI property types Graph's singleValueExtendedProperties accept (as EWS's PropertyType names).
MAPI_TYPES = {
    t.lower(): t
    for t in (
        "ApplicationTime", "Binary", "Boolean", "CLSID", "Currency", "Double", "Error", "Float",
        "Integer", "Long", "Null", "Object", "Short", "String", "SystemTime",
    )
}  # fmt: skip
_NAMED = re.compile(
    r"^(?P<type>\w+) \{(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})\} (?P<kind>Name|Id) (?P<rest>.+)$",
    re.IGNORECASE,
)
_TAGGED = re.compile(r"^(?P<type>\w+) (?P<tag>0x[0-9a-fA-F]{1,4})$")


def invalid_property_id() -> GraphError:
    return GraphError(
        400,
        "ErrorInvalidProperty",
        "PropertyId values may only be in one of the following formats: "
        "'MapiPropertyType namespaceGuid Name propertyName', "
        "'MapiPropertyType namespaceGuid Id propertyId' or 'MapiPropertyType propertyTag'.",
    )


def parse_property_id(text: str) -> ExtKey:
    """A Graph extended property id as the store's key, so EWS and Graph meet on one property."""
    text = text.strip()
    match = _NAMED.match(text)
    if match:
        ptype = MAPI_TYPES.get(match["type"].lower())
        if ptype is None:
            raise invalid_property_id()
        guid = match["guid"].upper()
        if match["kind"].lower() == "name":
            return ExtKey(guid, match["rest"], None, None, ptype)
        try:
            return ExtKey(guid, None, int(match["rest"], 0), None, ptype)
        except ValueError as exc:
            raise invalid_property_id() from exc
    match = _TAGGED.match(text)
    if match and match["type"].lower() in MAPI_TYPES:
        return ExtKey(None, None, None, int(match["tag"], 16), MAPI_TYPES[match["type"].lower()])
    raise invalid_property_id()


def format_property_id(key: ExtKey) -> str:
    if key.set_id is None:
        return f"{key.type} 0x{key.tag:x}"
    guid = "{" + key.set_id.lower() + "}"
    if key.name is not None:
        return f"{key.type} {guid} Name {key.name}"
    return f"{key.type} {guid} Id 0x{key.prop_id:x}"


# -- $filter ---------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[():,])|(?P<word>[A-Za-z_][\w./]*))"
)


def invalid_filter(detail: str = "") -> GraphError:
    suffix = f" ({detail})" if detail else ""
    return GraphError(
        400,
        "ErrorInvalidUrlQueryFilter",
        f"The query filter contains one or more invalid nodes.{suffix}",
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid_filter(f"unexpected text at {pos}")
        pos = match.end()
        if match["string"] is not None:
            out.append(("str", match["string"][1:-1].replace("''", "'")))
        elif match["punct"] is not None:
            out.append(("punct", match["punct"]))
        else:
            out.append(("word", match["word"]))
    return out


@dataclass
class Comparison:
    member: str  # address | id | value
    op: str  # eq | ne | startswith | contains
    literal: str


@dataclass
class AnyClause:
    collection: str  # emailAddresses | singleValueExtendedProperties
    comparisons: list[Comparison]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise invalid_filter(f"expected {value or kind}")
        self.pos += 1
        return token[1]

    def clauses(self) -> list[AnyClause]:
        out = [self.clause()]
        while self.peek() == ("word", "and"):
            self.pos += 1
            out.append(self.clause())
        if self.peek() is not None:
            raise invalid_filter("only 'and' may join lambda clauses")
        return out

    def clause(self) -> AnyClause:
        path = self.take("word")
        collection, _, operator = path.rpartition("/")
        if operator.lower() != "any" or collection not in (
            "emailAddresses",
            "singleValueExtendedProperties",
        ):
            raise invalid_filter(f"unsupported filter on '{path}'")
        self.take("punct", "(")
        variable = self.take("word")
        self.take("punct", ":")
        comparisons = [self.comparison(variable)]
        while self.peek() == ("word", "and"):
            self.pos += 1
            comparisons.append(self.comparison(variable))
        self.take("punct", ")")
        return AnyClause(collection, comparisons)

    def comparison(self, variable: str) -> Comparison:
        word = self.take("word")
        if word.lower() in ("startswith", "contains"):
            self.take("punct", "(")
            member = self.member(self.take("word"), variable)
            self.take("punct", ",")
            literal = self.take("str")
            self.take("punct", ")")
            return Comparison(member, word.lower(), literal)
        member = self.member(word, variable)
        op = self.take("word").lower()
        if op not in ("eq", "ne"):
            raise invalid_filter(f"unsupported operator '{op}'")
        return Comparison(member, op, self.take("str"))

    @staticmethod
    def member(path: str, variable: str) -> str:
        prefix, _, member = path.partition("/")
        if prefix != variable or not member:
            raise invalid_filter(f"'{path}' is not a member of '{variable}'")
        return member


@dataclass
class ContactFilter:
    """A parsed ``$filter`` on contacts, evaluated against the store's values."""

    clauses: list[AnyClause]
    ext_keys: list[ExtKey] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> ContactFilter:
        clauses = _Parser(text).clauses()
        keys = []
        for clause in clauses:
            members = [c.member for c in clause.comparisons]
            if clause.collection == "emailAddresses":
                if members != ["address"] or clause.comparisons[0].op != "eq":
                    raise invalid_filter("emailAddresses takes only a/address eq '...'")
            else:
                ids = [c for c in clause.comparisons if c.member == "id"]
                values = [c for c in clause.comparisons if c.member == "value"]
                if len(ids) != 1 or ids[0].op != "eq" or len(values) > 1 or len(members) > 2:
                    raise invalid_filter(
                        "singleValueExtendedProperties takes ep/id eq and ep/value"
                    )
                keys.append(parse_property_id(ids[0].literal))
        return cls(clauses, keys)

    def matches(self, emails: list[str], ext: Mapping[ExtKey, object]) -> bool:
        keys = iter(self.ext_keys)
        for clause in self.clauses:
            if clause.collection == "emailAddresses":
                wanted = clause.comparisons[0].literal.lower()
                if not any(e.lower() == wanted for e in emails):
                    return False
                continue
            value = ext.get(next(keys))
            if value is None:
                return False
            for comparison in clause.comparisons:
                if comparison.member == "value" and not _compare(
                    str(value).lower(), comparison.op, comparison.literal.lower()
                ):
                    return False
        return True


def _compare(value: str, op: str, literal: str) -> bool:
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: value == literal,
        "ne": lambda: value != literal,
        "startswith": lambda: value.startswith(literal),
        "contains": lambda: literal in value,
    }
    return checks[op]()


# -- $select, $top, $skip, $expand ---------------------------------------------------------------
@dataclass
class QueryOptions:
    select: list[str] | None = None
    top: int | None = None
    skip: int = 0
    filter: ContactFilter | None = None
    expand_ext: list[ExtKey] | None = None  # singleValueExtendedProperties($filter=id eq ...)


SUPPORTED = frozenset({"$select", "$top", "$skip", "$filter", "$expand"})
_EXPAND = re.compile(r"^singleValueExtendedProperties\((?P<options>.*)\)$", re.DOTALL)


def parse_expand(text: str) -> list[ExtKey]:
    match = _EXPAND.match(text.strip())
    if not match:
        if text.strip() == "singleValueExtendedProperties":
            raise bad_request(
                "singleValueExtendedProperties must be expanded with a $filter on id "
                "(there is no call returning every extended property of an item)."
            )
        raise bad_request(f"Parsing OData Select and Expand failed: could not expand '{text}'.")
    options = match["options"].strip()
    if not options.lower().startswith("$filter="):
        raise bad_request("singleValueExtendedProperties takes only a $filter option.")
    parser = _Parser(options[len("$filter=") :])
    keys = []
    while True:
        if parser.take("word") != "id" or parser.take("word").lower() != "eq":
            raise invalid_filter("expand filter must be id eq '...'")
        keys.append(parse_property_id(parser.take("str")))
        if parser.peek() is None:
            return keys
        if parser.take("word").lower() != "or":
            raise invalid_filter("expand filters are joined with 'or'")


def parse_query(
    query: Mapping[str, str],
    *,
    properties: frozenset[str],
    type_name: str,
    allowed: frozenset[str] = SUPPORTED,
) -> QueryOptions:
    """Parse the system query options of one request (others are refused, never ignored)."""
    options = QueryOptions()
    for name in query:
        if name.startswith("$") and name not in allowed:
            raise bad_request(f"Query option '{name}' is not supported on this resource.")
    if "$select" in query:
        names = [n.strip() for n in query["$select"].split(",") if n.strip()]
        for name in names:
            if name not in properties:
                raise bad_request(
                    f"Could not find a property named '{name}' on type '{type_name}'."
                )
        options.select = names
    if "$top" in query:
        try:
            options.top = int(query["$top"])
        except ValueError as exc:
            raise bad_request(f"Invalid $top value '{query['$top']}'.") from exc
        if options.top < 0:
            raise bad_request(f"Invalid $top value '{query['$top']}'.")
    if "$skip" in query:
        try:
            options.skip = int(query["$skip"])
        except ValueError as exc:
            raise bad_request(f"Invalid $skip value '{query['$skip']}'.") from exc
        if options.skip < 0:
            raise bad_request(f"Invalid $skip value '{query['$skip']}'.")
    if "$filter" in query:
        options.filter = ContactFilter.parse(query["$filter"])
    if "$expand" in query:
        options.expand_ext = parse_expand(query["$expand"])
    return options
