"""exchange_mailbox.ews.category_list: edits keep every unknown element and attribute."""

from __future__ import annotations

import pytest
from exchange_mailbox.ews.category_list import (
    CategoryList,
    CategoryListError,
    outlook_time,
    stable_guid,
)
from lxml import etree

# As Exchange Online stores it, plus attributes/elements/namespaces this code does not know.
STORED = b"""<?xml version="1.0" encoding="utf-8"?>
<categories default="Red category" lastSavedSession="3" lastSavedTime="2026-05-20T08:32:33.4073227Z"
  futureFlag="x" xmlns="CategoryList.xsd" xmlns:ext="urn:example:ext">
  <category renameOnFirstUse="1" name="Red category" color="0" keyboardShortcut="0"
    usageCount="4" lastTimeUsed="2026-05-20T08:32:33.4073227Z"
    guid="{00d19ed5-75f6-47e4-a99a-5c3b0ebce48b}" ext:sticky="yes" unknownAttr="keep me"/>
  <category name="Clients" color="7" guid="{5167bcb2-411e-4cec-b770-551d75b6a9d1}"/>
  <extension kind="unknown"><nested a="1">text</nested></extension>
  <!-- a comment -->
  <category name="No colour" color="-1"/>
</categories>"""


def canonical(data: bytes) -> bytes:
    # C14N refuses the relative namespace URI "CategoryList.xsd"; a re-serialised tree compares
    # elements, attributes (in order), namespaces, text and comments just as well.
    return etree.tostring(etree.fromstring(data))


@pytest.mark.spec("S3.1")
def test_parse_reads_name_color_guid() -> None:
    cats = CategoryList.parse(STORED).categories()
    assert [(c.name, c.color, c.guid) for c in cats] == [
        ("Red category", 0, "{00d19ed5-75f6-47e4-a99a-5c3b0ebce48b}"),
        ("Clients", 7, "{5167bcb2-411e-4cec-b770-551d75b6a9d1}"),
        ("No colour", -1, None),
    ]


@pytest.mark.spec("S3.1")
def test_round_trip_without_edits_is_identical() -> None:
    assert canonical(CategoryList.parse(STORED).to_bytes()) == canonical(STORED)


@pytest.mark.spec("S3.1", "S3.2")
def test_add_and_rename_keep_unknown_attributes_and_elements() -> None:
    cl = CategoryList.parse(STORED)
    new = cl.add("Sell Lead", color=7)
    assert cl.rename("{5167BCB2-411E-4CEC-B770-551D75B6A9D1}", "Customers") == "Clients"
    root = etree.fromstring(cl.to_bytes())
    ns = {"c": "CategoryList.xsd"}
    red = root.find("c:category[@name='Red category']", ns)
    assert red is not None
    assert red.get("unknownAttr") == "keep me"
    assert red.get("{urn:example:ext}sticky") == "yes"
    assert red.get("usageCount") == "4"
    assert root.get("futureFlag") == "x"
    nested = root.find("c:extension/c:nested", ns)
    assert nested is not None
    assert nested.text == "text"
    assert root.get("lastSavedTime") != "2026-05-20T08:32:33.4073227Z"
    assert [c.get("name") for c in root.findall("c:category", ns)] == [
        "Red category",
        "Customers",
        "No colour",
        "Sell Lead",
    ]
    assert new.get("guid") == stable_guid("Sell Lead")
    assert new.get("lastTimeUsed")  # MS-OXOCFG: MUST be set
    reparsed = CategoryList.parse(cl.to_bytes())
    assert reparsed.find("sell lead") is not None
    found = reparsed.find_guid(stable_guid("Sell Lead"))
    assert found is not None
    assert found.get("name") == "Sell Lead"


@pytest.mark.spec("S3.1")
def test_add_refuses_duplicates_case_insensitively_and_bad_guids() -> None:
    cl = CategoryList.parse(STORED)
    with pytest.raises(ValueError, match="already exists"):
        cl.add("clients")
    with pytest.raises(ValueError, match="guid"):
        cl.add("Other", guid="not-a-guid")


@pytest.mark.spec("S3.1")
def test_empty_list_serialises_in_outlook_format() -> None:
    cl = CategoryList.empty()
    cl.add("VIP", color=3)
    root = etree.fromstring(cl.to_bytes())
    assert root.tag == "{CategoryList.xsd}categories"
    assert root[0].get("name") == "VIP"
    assert root[0].get("color") == "3"
    assert CategoryList.parse(cl.to_bytes()).names() == ["VIP"]


@pytest.mark.spec("S3.1")
def test_stable_guid_and_time_format() -> None:
    assert stable_guid("Sell Person") == stable_guid("Sell Person")
    assert stable_guid("Sell Person") != stable_guid("Sell Company")
    assert len(stable_guid("x")) == 38
    stamp = outlook_time()
    assert stamp.endswith("Z")
    assert len(stamp.split(".")[1]) == 8


def test_not_a_category_list() -> None:
    with pytest.raises(CategoryListError):
        CategoryList.parse(b"<root/>")
    with pytest.raises(CategoryListError):
        CategoryList.parse(b"<categories")
