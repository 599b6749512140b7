"""Every table the EWS sandbox copied from Microsoft's schema equals the schema (issue 12).

``ews_sandbox/schema_tables.py`` and ``properties.py`` hold element orders, FieldURI enumerations,
key lists and value kinds by hand, because the sandbox runs without the schema. These tests read
``../shared/ews-schema/`` with xmlschema (and services.wsdl with lxml) so a typo or a missed
element fails here; without the schema they skip and say where they looked.
"""

from __future__ import annotations

import pytest
from ews_sandbox import properties, schema_tables
from ews_sandbox.server import OPERATIONS
from ews_sandbox.testing import ews_schema, schema_file
from lxml import etree

T_NS = "{http://schemas.microsoft.com/exchange/services/2006/types}"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
ITEM_TYPES = ("ContactItemType", "DistributionListType")


def xsd_type(name: str):
    return ews_schema().maps.types[T_NS + name]


def sequence(type_name: str) -> tuple[str, ...]:
    """The element names of a complex type, its base types' first, as an instance orders them."""
    return tuple(e.local_name for e in xsd_type(type_name).content.iter_elements())


def item_elements() -> dict:
    """Element declarations of the contact and distribution list types, by local name."""
    found: dict = {}
    for type_name in ITEM_TYPES:
        for element in xsd_type(type_name).content.iter_elements():
            found.setdefault(element.local_name, element)
    return found


@pytest.mark.parametrize(
    ("table", "type_name"),
    [
        ("ITEM_ORDER", "ItemType"),
        ("CONTACT_ORDER", "ContactItemType"),
        ("DISTRIBUTION_LIST_ORDER", "DistributionListType"),
        ("BASE_FOLDER_ORDER", "BaseFolderType"),
        ("FOLDER_ORDER", "FolderType"),
        ("CONTACTS_FOLDER_ORDER", "ContactsFolderType"),
        ("CALENDAR_FOLDER_ORDER", "CalendarFolderType"),
        ("TASKS_FOLDER_ORDER", "TasksFolderType"),
    ],
)
def test_element_orders_are_the_xsd_sequences(table: str, type_name: str):
    assert getattr(schema_tables, table) == sequence(type_name)


def test_field_uri_enumerations_are_the_xsd_ones():
    assert set(xsd_type("UnindexedFieldURIType").enumeration) == schema_tables.UNINDEXED_FIELD_URIS
    assert set(xsd_type("DictionaryURIType").enumeration) == schema_tables.DICTIONARY_URIS


def test_request_versions_are_exchange_version_type():
    """Exchange2015_SP1, which exchangelib knows, is not in the schema: the server refuses it."""
    assert set(xsd_type("ExchangeVersionType").enumeration) == schema_tables.REQUEST_VERSIONS


def test_served_and_refused_operations_are_every_wsdl_operation():
    wsdl = etree.parse(str(schema_file("services.wsdl")))
    names = {
        op.get("name") for op in wsdl.iterfind(f".//{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")
    }
    assert not schema_tables.KNOWN_EWS_OPERATIONS & OPERATIONS.keys()
    assert schema_tables.KNOWN_EWS_OPERATIONS | OPERATIONS.keys() == names


def test_value_kinds_match_the_element_types():
    """How a property is encoded on the wire follows the XSD type of its element."""
    elements = item_elements()

    def primitive(name: str) -> str | None:
        kind = elements[name].type
        return kind.primitive_type.local_name if hasattr(kind, "primitive_type") else None

    assert {n: primitive(n) for n in properties.STRING_FIELDS} == {
        n: "anyURI" if n == "BusinessHomePage" else "string" for n in properties.STRING_FIELDS
    }
    assert {primitive(n) for n in properties.BOOL_FIELDS} == {"boolean"}
    assert {primitive(n) for n in properties.DATETIME_FIELDS} == {"dateTime"}
    for name in properties.INT_FIELDS:
        assert elements[name].type.is_valid("15"), name
        assert not elements[name].type.is_valid("1.5"), name
    assert {elements[n].type.local_name for n in properties.STRING_LIST_FIELDS} == {
        "ArrayOfStringsType"
    }


def test_dictionary_keys_and_address_parts_are_the_xsd_ones():
    elements = item_elements()
    for dictionary, keys in properties.INDEX_KEYS.items():
        (entry,) = elements[dictionary].type.content.iter_elements()
        assert keys == tuple(entry.type.attributes["Key"].type.enumeration), dictionary
    (address,) = elements["PhysicalAddresses"].type.content.iter_elements()
    assert tuple(e.local_name for e in address.type.content) == properties.ADDRESS_PARTS
    for dictionary, uri_name in properties.DICT_FIELDS.items():
        assert dictionary in elements
        assert f"contacts:{uri_name}" in schema_tables.DICTIONARY_URIS
    assert properties.INDEXED_URIS.keys() <= schema_tables.DICTIONARY_URIS
    assert {d for d, _ in properties.INDEXED_URIS.values()} <= properties.INDEX_KEYS.keys()


def test_property_tables_name_only_schema_elements():
    elements = item_elements()
    folders = set(schema_tables.FOLDER_ORDER) | set(schema_tables.CONTACTS_FOLDER_ORDER)
    for table in ("READ_ONLY_ITEM_FIELDS", "NOT_IN_FIND_ITEM", "ITEM_DEFAULT_SHAPE"):
        assert set(getattr(properties, table)) <= elements.keys(), table
    assert folders >= properties.FOLDER_DEFAULT_SHAPE
    assert properties.URI_ELEMENT_OVERRIDES.keys() <= schema_tables.UNINDEXED_FIELD_URIS
    assert set(properties.URI_ELEMENT_OVERRIDES.values()) <= elements.keys()


def test_every_item_field_uri_names_an_element():
    """item:/contacts:/distributionlist: URIs map to an element, except two body renderings."""
    elements = item_elements()
    nameless = {
        uri
        for uri in schema_tables.UNINDEXED_FIELD_URIS
        if uri.partition(":")[0] in ("item", "contacts", "distributionlist")
        and properties.element_for_uri(uri) not in elements
    }
    assert nameless == {"item:FirstBody", "item:MimeContentUTF8"}
