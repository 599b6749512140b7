"""Checks a POST/PUT ``data`` object the way Sell answers it: 422 with every problem listed.

Only rules the reference states (or that follow from a field's documented type) are enforced:
no e-mail syntax check and no string length limits, because the reference names none.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sell_sandbox.account import Account
from sell_sandbox.errors import ErrorItem, SellError, resource_error
from sell_sandbox.resources import ADDRESS_KEYS, CONTACT, DEAL, LEAD, NOTE, Resource

TEXT_CUSTOM_TYPES = ("string", "text", "email", "phone", "url", "date", "datetime")


class _Collector:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.errors: list[ErrorItem] = []

    def add(self, pointer: str, code: str, details: str) -> None:
        self.errors.append(resource_error(self.resource.name, pointer, code, details))

    def wrong_type(self, pointer: str, expected: str) -> None:
        self.add(pointer, "invalid_type", f"The attribute '{pointer}' must be {expected}.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            Decimal(value)
        except InvalidOperation:
            return False
        return value.strip() != "" and Decimal(value).is_finite()
    return False


def _check_address(out: _Collector, pointer: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        out.wrong_type(pointer, "an object")
        return
    for key, part in value.items():
        if key not in ADDRESS_KEYS:
            out.add(
                f"{pointer}/{key}",
                "unknown",
                f"The attribute '{pointer}/{key}' is not a known attribute of an address.",
            )
        elif part is not None and not isinstance(part, str):
            out.wrong_type(f"{pointer}/{key}", "a string")


def _check_custom_value(out: _Collector, pointer: str, spec: object, value: object) -> object:
    """Returns the stored form (numbers are strings in REST, reference §6)."""
    ftype, choices = spec.type, spec.choices  # type: ignore[attr-defined]
    if value is None:
        return None
    if ftype in TEXT_CUSTOM_TYPES:
        if not isinstance(value, str):
            out.wrong_type(pointer, "a string")
    elif ftype == "number":
        if not _is_number(value):
            out.wrong_type(pointer, "a number")
            return value
        return str(value)
    elif ftype == "bool":
        if not isinstance(value, bool):
            out.wrong_type(pointer, "a boolean")
    elif ftype == "list":
        if not isinstance(value, str):
            out.wrong_type(pointer, "a string")
        elif choices and value not in choices:
            out.add(
                pointer,
                "incorrect_value",
                f"The attribute '{pointer}' value is not included in the list",
            )
    elif ftype == "multi_select_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            out.wrong_type(pointer, "an array of strings")
        elif choices and any(v not in choices for v in value):
            out.add(
                pointer,
                "incorrect_value",
                f"The attribute '{pointer}' value is not included in the list",
            )
    elif ftype == "address":
        _check_address(out, pointer, value)
    return value


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate(account: Account, resource: Resource, data: dict, existing: dict | None) -> dict:
    """Return the changes to apply, or raise ``SellError`` (422) listing every problem."""
    out = _Collector(resource)
    changes: dict = {}
    for attr, value in data.items():
        pointer = f"/{attr}"
        spec = resource.attrs.get(attr)
        if spec is None:
            out.add(
                pointer,
                "unknown",
                f"The attribute '{pointer}' is not a known attribute for the '{resource.name}'"
                " resource.",
            )
            continue
        if spec.read_only:
            out.add(
                pointer,
                "unknown",
                f"The attribute '{pointer}' is read-only for the '{resource.name}' resource.",
            )
            continue
        kind = spec.kind
        if kind == "string" and value is not None and not isinstance(value, str):
            out.wrong_type(pointer, "a string")
        elif kind == "integer" and value is not None and not _is_int(value):
            out.wrong_type(pointer, "an integer")
        elif kind == "boolean" and not isinstance(value, bool):
            out.wrong_type(pointer, "a boolean")
        elif kind == "decimal" and value is not None and not _is_number(value):
            out.wrong_type(pointer, "a decimal number")
        elif kind == "enum":
            if not isinstance(value, str):
                out.wrong_type(pointer, "a string")
            elif value not in spec.choices:
                out.add(
                    pointer,
                    "incorrect_value",
                    f"The attribute '{pointer}' value is not included in the list",
                )
        elif kind == "address":
            _check_address(out, pointer, value)
        elif kind == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                out.wrong_type(pointer, "an array of strings")
        elif kind == "custom_fields":
            changes[attr] = _check_custom_fields(account, resource, out, value)
            continue
        changes[attr] = value
    if not out.errors:
        _check_rules(account, resource, out, changes, existing)
    if out.errors:
        raise SellError(422, out.errors)
    return changes


def _check_custom_fields(
    account: Account, resource: Resource, out: _Collector, value: object
) -> object:
    if not isinstance(value, dict):
        out.wrong_type("/custom_fields", "an object keyed by custom field name")
        return value
    defined = account.custom_fields.get(resource.name, {})
    stored = {}
    for name, field_value in value.items():
        pointer = f"/custom_fields/{name}"
        if name not in defined:
            out.add(
                pointer,
                "unknown",
                f"The custom field '{name}' is not defined for the '{resource.name}' resource.",
            )
            continue
        stored[name] = _check_custom_value(out, pointer, defined[name]["spec"], field_value)
    return stored


def _required(
    out: _Collector, attr: str, changes: dict, existing: dict | None, *, creating: bool
) -> None:
    pointer = f"/{attr}"
    if creating and attr not in changes:
        out.add(pointer, "missing", f"The attribute '{pointer}' is required.")
    elif attr in changes and _blank(changes[attr]):
        out.add(pointer, "blank", f"The attribute '{pointer}' cannot be blank.")


def _check_rules(
    account: Account, resource: Resource, out: _Collector, changes: dict, existing: dict | None
) -> None:
    creating = existing is None
    merged = {**(existing or {}), **changes}
    contacts = account.tables[CONTACT.path]
    if resource is CONTACT:
        changed = (
            existing is not None
            and changes.get("is_organization", existing["is_organization"])
            != existing["is_organization"]
        )
        if changed:
            out.add(
                "/is_organization",
                "incorrect_value",
                "The attribute '/is_organization' cannot be changed after creation.",
            )
            return
        is_org = bool(merged.get("is_organization"))
        _required(out, "name" if is_org else "last_name", changes, existing, creating=creating)
        own_id = existing["id"] if existing else None
        for attr, allowed in (("contact_id", not is_org), ("parent_organization_id", is_org)):
            target_id = changes.get(attr)
            if target_id is None:
                continue
            target = contacts.get(target_id)
            if (
                not allowed
                or target is None
                or not target["is_organization"]
                or target_id == own_id
            ):
                out.add(
                    f"/{attr}",
                    "incorrect_value",
                    f"The attribute '/{attr}' must reference an existing organization"
                    + (" and is only for individuals" if attr == "contact_id" else "")
                    + ".",
                )
    elif resource is LEAD:
        present = [a for a in ("last_name", "organization_name") if not _blank(merged.get(a))]
        if not present:
            touched = [a for a in ("last_name", "organization_name") if a in changes]
            code = "blank" if touched or not creating else "missing"
            out.add(
                "/last_name",
                code,
                "A lead needs a '/last_name' or an '/organization_name'.",
            )
    elif resource is DEAL:
        _required(out, "name", changes, existing, creating=creating)
        if creating and "contact_id" not in changes:
            out.add("/contact_id", "missing", "The attribute '/contact_id' is required.")
        if "contact_id" in changes and changes["contact_id"] not in contacts:
            out.add(
                "/contact_id",
                "incorrect_value",
                "The attribute '/contact_id' must reference an existing contact.",
            )
        if "stage_id" in changes and changes["stage_id"] not in account.stages:
            out.add(
                "/stage_id",
                "incorrect_value",
                "The attribute '/stage_id' must reference an existing stage.",
            )
    elif resource is NOTE:
        for attr in ("content", "resource_type", "resource_id"):
            _required(out, attr, changes, existing, creating=creating)
        if out.errors:
            return
        target_path = {"contact": "contacts", "lead": "leads", "deal": "deals"}
        table = account.tables[target_path[merged["resource_type"]]]
        if merged["resource_id"] not in table:
            out.add(
                "/resource_id",
                "incorrect_value",
                "The attribute '/resource_id' must reference an existing"
                f" {merged['resource_type']}.",
            )
