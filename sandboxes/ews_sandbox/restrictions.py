"""FindItem/FindFolder restrictions and sort orders, evaluated over stored objects.

Comparisons follow MAPI property restrictions: a multi-valued property (``item:Categories``)
matches when any of its values does, a missing property matches nothing, strings compare
case-insensitively.
"""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from lxml import etree

from ews_sandbox.errors import EwsError
from ews_sandbox.item_codec import Path, parse_path, path_kind
from ews_sandbox.xml import elements, local, parse_bool, parse_datetime, t

ValuesFn = Callable[[Any, Path], list[Any]]
Predicate = Callable[[Any], bool]

_COMPARE = {
    "IsEqualTo": operator.eq,
    "IsNotEqualTo": operator.ne,
    "IsGreaterThan": operator.gt,
    "IsGreaterThanOrEqualTo": operator.ge,
    "IsLessThan": operator.lt,
    "IsLessThanOrEqualTo": operator.le,
}


def invalid_restriction(text: str) -> EwsError:
    return EwsError("ErrorInvalidRestriction", text)


def coerce(value: Any, kind: str) -> Any:
    """Bring a stored value or a constant to a comparable Python value of ``kind``."""
    if value is None:
        return None
    try:
        if kind == "datetime":
            return value if isinstance(value, datetime) else parse_datetime(str(value))
        if kind == "bool":
            return value if isinstance(value, bool) else parse_bool(str(value))
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as exc:
        raise invalid_restriction(f"The constant {value!r} is not a valid {kind}.") from exc
    return str(value).casefold()


def _fold(text: str, comparison: str) -> str:
    if "IgnoreCase" in comparison or "Loose" in comparison:
        text = text.casefold()
    if "NonSpacing" in comparison or "Loose" in comparison:
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return text


def compile_restriction(restriction: etree._Element | None, values: ValuesFn) -> Predicate:
    """A predicate for ``m:Restriction`` (None: everything matches)."""
    if restriction is None:
        return lambda _obj: True
    exprs = elements(restriction)
    if len(exprs) != 1:
        raise invalid_restriction("A restriction holds exactly one search expression.")
    return _compile(exprs[0], values)


def _operand(expr: etree._Element) -> tuple[Path, etree._Element | None]:
    parts = elements(expr)
    if not parts:
        raise invalid_restriction(f"{local(expr)} needs a property path.")
    return parse_path(parts[0]), (parts[1] if len(parts) > 1 else None)


def _compile(expr: etree._Element, values: ValuesFn) -> Predicate:
    name = local(expr)
    if name in ("And", "Or"):
        subs = [_compile(e, values) for e in elements(expr)]
        if not subs:
            raise invalid_restriction(f"{name} needs at least one expression.")
        if name == "And":
            return lambda obj: all(p(obj) for p in subs)
        return lambda obj: any(p(obj) for p in subs)
    if name == "Not":
        inner = elements(expr)
        if len(inner) != 1:
            raise invalid_restriction("Not holds exactly one expression.")
        predicate = _compile(inner[0], values)
        return lambda obj: not predicate(obj)
    if name == "Exists":
        path, _ = _operand(expr)
        return lambda obj: bool(values(obj, path))
    if name in _COMPARE:
        return _compile_compare(expr, values, _COMPARE[name])
    if name == "Contains":
        return _compile_contains(expr, values)
    if name == "Excludes":
        path, bitmask = _operand(expr)
        try:
            mask = int((bitmask.get("Value") if bitmask is not None else "0") or "0", 0)
        except ValueError as exc:
            raise invalid_restriction("Excludes needs an integer bitmask.") from exc
        return lambda obj: any(int(v) & mask == 0 for v in values(obj, path))
    raise invalid_restriction(f"The search expression {name} is not supported.")


def _compile_compare(expr: etree._Element, values: ValuesFn, compare: Callable) -> Predicate:
    path, operand = _operand(expr)
    if operand is None or local(operand) != "FieldURIOrConstant":
        raise invalid_restriction(f"{local(expr)} needs a FieldURIOrConstant.")
    kind = path_kind(path)
    target = elements(operand)
    if not target:
        raise invalid_restriction("FieldURIOrConstant is empty.")
    if local(target[0]) == "Constant":
        constant = coerce(target[0].get("Value", ""), kind)

        def against_constant(obj: Any) -> bool:
            return any(_safe(compare, coerce(v, kind), constant) for v in values(obj, path))

        return against_constant
    other = parse_path(target[0])

    def against_field(obj: Any) -> bool:
        rights = [coerce(v, kind) for v in values(obj, other)]
        return any(_safe(compare, coerce(v, kind), r) for v in values(obj, path) for r in rights)

    return against_field


def _safe(compare: Callable, left: Any, right: Any) -> bool:
    try:
        return bool(compare(left, right))
    except TypeError:
        return False


def _compile_contains(expr: etree._Element, values: ValuesFn) -> Predicate:
    path, constant = _operand(expr)
    if constant is None or local(constant) != "Constant":
        raise invalid_restriction("Contains needs a Constant.")
    mode = expr.get("ContainmentMode", "Substring")
    comparison = expr.get("ContainmentComparison", "Exact")
    needle = _fold(constant.get("Value", ""), comparison)

    def match(text: str) -> bool:
        hay = _fold(text, comparison)
        if mode == "FullString":
            return hay == needle
        if mode == "Prefixed":
            return hay.startswith(needle)
        if mode == "PrefixOnWords":
            return any(word.startswith(needle) for word in hay.split())
        if mode == "ExactPhrase":
            return f" {needle} " in f" {' '.join(hay.split())} "
        return needle in hay

    return lambda obj: any(match(str(v)) for v in values(obj, path))


def sort_objects(objs: Sequence[Any], sort_order: etree._Element | None, values: ValuesFn) -> list:
    """Stable multi-key sort for ``m:SortOrder``; objects without the value sort first."""
    result = list(objs)
    if sort_order is None:
        return result
    orders = sort_order.findall(t("FieldOrder"))
    for field_order in reversed(orders):
        paths = elements(field_order)
        if not paths:
            raise invalid_restriction("FieldOrder needs a property path.")
        path = parse_path(paths[0])
        kind = path_kind(path)
        descending = field_order.get("Order", "Ascending") == "Descending"

        def key(obj: Any, path: Path = path, kind: str = kind) -> tuple:
            found = values(obj, path)
            if not found:
                return (0, 0)
            return (1, coerce(found[0], kind))

        result.sort(key=key, reverse=descending)
    return result
