"""How the sandbox treats each contact property: wire value kinds, indexed dictionaries, read-only
and streamed properties, default shapes, and which element a FieldURI names.

Element names and keys here are types.xsd's; ``tests/test_ews_schema_tables.py`` checks each of them
against the schema, so a typo fails a test instead of silently never matching.
"""

from __future__ import annotations

# How each stored item property is encoded on the wire.
STRING_FIELDS = frozenset(
    {
        "Subject", "Sensitivity", "Importance", "Culture", "InReplyTo", "ItemClass",
        "FileAs", "FileAsMapping", "DisplayName", "GivenName", "Initials", "MiddleName",
        "Nickname", "CompanyName", "AssistantName", "BusinessHomePage", "Department",
        "Generation", "JobTitle", "Manager", "Mileage", "OfficeLocation", "PostalAddressIndex",
        "Profession", "SpouseName", "Surname", "PhoneticFullName", "PhoneticFirstName",
        "PhoneticLastName", "Alias", "Notes", "DirectoryId", "LastModifiedName",
        "ContactSource",
    }
)  # fmt: skip
BOOL_FIELDS = frozenset(
    {
        "ReminderIsSet", "IsSubmitted", "IsDraft", "IsFromMe", "IsResend", "IsUnmodified",
        "HasAttachments", "IsAssociated", "HasPicture",
    }
)  # fmt: skip
INT_FIELDS = frozenset({"ReminderMinutesBeforeStart", "Size"})
DATETIME_FIELDS = frozenset(
    {"Birthday", "WeddingAnniversary", "ReminderDueBy", "DateTimeReceived", "DateTimeCreated",
     "DateTimeSent", "LastModifiedTime"}
)  # fmt: skip
STRING_LIST_FIELDS = frozenset({"Categories", "Children", "Companies"})
DICT_FIELDS = {
    "EmailAddresses": "EmailAddress",
    "PhoneNumbers": "PhoneNumber",
    "ImAddresses": "ImAddress",
}
ADDRESS_PARTS: tuple[str, ...] = ("Street", "City", "State", "CountryOrRegion", "PostalCode")

# Keys of the indexed dictionaries, in the order Exchange lists them.
INDEX_KEYS: dict[str, tuple[str, ...]] = {
    "EmailAddresses": ("EmailAddress1", "EmailAddress2", "EmailAddress3"),
    "ImAddresses": ("ImAddress1", "ImAddress2", "ImAddress3"),
    "PhysicalAddresses": ("Home", "Business", "Other"),
    "PhoneNumbers": (
        "AssistantPhone", "BusinessFax", "BusinessPhone", "BusinessPhone2", "Callback",
        "CarPhone", "CompanyMainPhone", "HomeFax", "HomePhone", "HomePhone2", "Isdn",
        "MobilePhone", "OtherFax", "OtherTelephone", "Pager", "PrimaryPhone", "RadioPhone",
        "Telex", "TtyTddPhone", "BusinessMobile", "IPPhone", "Mms", "Msn",
    ),
}  # fmt: skip

# Indexed field URI (as in t:IndexedFieldURI/@FieldURI) → dictionary element (and sub-field).
INDEXED_URIS: dict[str, tuple[str, str | None]] = {
    "contacts:EmailAddress": ("EmailAddresses", None),
    "contacts:PhoneNumber": ("PhoneNumbers", None),
    "contacts:ImAddress": ("ImAddresses", None),
    **{f"contacts:PhysicalAddress:{p}": ("PhysicalAddresses", p) for p in ADDRESS_PARTS},
}

# Unindexed field URIs whose element name differs from the URI's local part.
URI_ELEMENT_OVERRIDES = {
    "contacts:EmailAddresses": "EmailAddresses",
    "contacts:PhoneNumbers": "PhoneNumbers",
    "contacts:PhysicalAddresses": "PhysicalAddresses",
    "contacts:ImAddresses": "ImAddresses",
    "distributionlist:Members": "Members",
}

# Properties the server computes; a client may read them but never set them.
READ_ONLY_ITEM_FIELDS = frozenset(
    {
        "ItemId", "ParentFolderId", "DateTimeReceived", "Size", "IsSubmitted", "IsDraft",
        "IsFromMe", "IsResend", "IsUnmodified", "DateTimeSent", "DateTimeCreated",
        "HasAttachments", "EffectiveRights", "LastModifiedName", "LastModifiedTime",
        "IsAssociated", "CompleteName", "ContactSource", "HasPicture", "ConversationId",
        "PhoneticFullName", "PhoneticFirstName", "PhoneticLastName", "Alias", "Notes",
        "Photo", "DirectoryId", "ManagerMailbox", "DirectReports", "TextBody",
        "WebClientReadFormQueryString", "WebClientEditFormQueryString",
    }
)  # fmt: skip

# Streamed or large properties that FindItem refuses (ErrorInvalidPropertyRequest), as Exchange.
NOT_IN_FIND_ITEM = frozenset(
    {"MimeContent", "Body", "Attachments", "UniqueBody", "TextBody", "NormalizedBody", "Members",
     "InternetMessageHeaders", "Photo", "UserSMIMECertificate", "MSExchangeCertificate"}
)  # fmt: skip

# The order properties of one entry are sorted by when a shape names a whole dictionary.
ITEM_DEFAULT_SHAPE = frozenset(
    {
        "ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "DateTimeReceived",
        "Size", "Categories", "Importance", "DateTimeCreated", "HasAttachments", "Culture",
        "LastModifiedName", "LastModifiedTime", "IsAssociated", "FileAs", "FileAsMapping",
        "DisplayName", "GivenName", "CompleteName", "CompanyName", "EmailAddresses",
        "PhysicalAddresses", "PhoneNumbers", "JobTitle", "Surname", "Members",
    }
)  # fmt: skip

FOLDER_DEFAULT_SHAPE = frozenset(
    {"FolderId", "DisplayName", "TotalCount", "ChildFolderCount", "UnreadCount"}
)


def element_for_uri(uri: str) -> str | None:
    """Element local name for an unindexed item field URI (``item:Subject`` → ``Subject``)."""
    if uri in URI_ELEMENT_OVERRIDES:
        return URI_ELEMENT_OVERRIDES[uri]
    prefix, _, name = uri.partition(":")
    if prefix not in ("item", "contacts", "message", "distributionlist") or not name:
        return None
    if name in ("EmailAddress", "PhoneNumber", "ImAddress", "PhysicalAddress") or ":" in name:
        return None  # indexed: only valid as t:IndexedFieldURI
    return name
