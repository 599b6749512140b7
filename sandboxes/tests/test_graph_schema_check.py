"""The CSDL check the Graph conformance tests rely on must itself catch what it is for."""

from __future__ import annotations

import pytest
from graph_sandbox.testing import answer_problems, csdl, object_problems, schema_missing_reason

pytestmark = pytest.mark.skipif(
    schema_missing_reason() is not None, reason=schema_missing_reason() or ""
)

GOOD = {
    "@odata.etag": 'W/"abc"',
    "id": "AAMk1",
    "createdDateTime": "2024-01-01T00:01:00Z",
    "categories": ["Clients"],
    "displayName": "Ada Lovelace",
    "emailAddresses": [{"name": "Ada", "address": "ada@example.com"}],
    "businessAddress": {"city": "London"},
    "birthday": None,
    "singleValueExtendedProperties": [
        {"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SellId", "value": "1"}
    ],
}


def test_reads_types_and_inheritance_from_the_csdl():
    contact = csdl().properties("contact")
    assert contact["id"].nullable is False  # from entity, through outlookItem
    assert contact["categories"].collection
    assert contact["categories"].type == "Edm.String"
    assert contact["singleValueExtendedProperties"].navigation
    assert "wellKnownName" not in csdl().properties("contactFolder")


def test_a_good_contact_passes():
    assert object_problems("c", "contact", GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"nickname": "Ada"}, "'nickname' is not a property of contact"),  # camelCase is nickName
        ({"displayName": 5}, "expected Edm.String"),
        ({"emailAddresses": {"address": "x"}}, "expected a JSON array"),
        ({"emailAddresses": [{"address": "x", "type": "work"}]}, "'type' is not a property"),
        ({"createdDateTime": "2024-01-01 00:01"}, "Edm.DateTimeOffset"),
        ({"id": None}, "null is not allowed"),
        ({"categories": None}, "null is not allowed"),
    ],
)
def test_invented_or_mistyped_properties_fail(change, expected):
    problems = object_problems("c", "contact", {**GOOD, **change})
    assert any(expected in p for p in problems), problems


def test_categories_colour_is_the_enum():
    ok = {"id": "g", "displayName": "Clients", "color": "preset7"}
    assert object_problems("x", "outlookCategory", ok) == []
    assert object_problems("x", "outlookCategory", {**ok, "color": "blue"})


def test_collections_removed_entries_and_errors():
    removed = {"id": "AAMk2", "@removed": {"reason": "deleted"}}
    body = {"@odata.context": "x", "@odata.deltaLink": "y", "value": [GOOD, removed]}
    good = {"operation": "GET", "status": 200, "entity_type": "contact", "shape": "collection",
            "body": body}  # fmt: skip
    assert answer_problems(good) == []
    bad_removed = {**good, "body": {"value": [{"id": "1", "@removed": {}, "displayName": "x"}]}}
    assert answer_problems(bad_removed)
    stray = {**good, "body": {**good["body"], "@odata.count": 3}}
    assert answer_problems(stray)
    error = {"operation": "GET", "status": 404, "entity_type": None, "shape": "error",
             "body": {"error": {"code": "ErrorItemNotFound", "message": "m"}}}  # fmt: skip
    assert answer_problems(error) == [
        "error.innerError needs date, request-id and client-request-id"
    ]
