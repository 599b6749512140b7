"""JSON schemas of the Sell resources, field by field from the API reference (§3-§6).

Every field the reference documents is declared; all but ``id`` are nullable because Sell returns
``null`` for unset attributes. ``custom_fields`` stays an open object keyed by field name, since
its keys are whatever the account defines.
"""

from __future__ import annotations

from singer_sdk import typing as th

_ADDRESS = th.ObjectType(
    th.Property("line1", th.StringType),
    th.Property("city", th.StringType),
    th.Property("postal_code", th.StringType),
    th.Property("state", th.StringType),
    th.Property("country", th.StringType),
)


def _id() -> th.Property:
    return th.Property("id", th.IntegerType, required=True, description="Sell id")


def _stamps() -> list[th.Property]:
    return [
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    ]


def _party_fields() -> list[th.Property]:
    """Fields contacts and leads share (reference §3/§4)."""
    return [
        th.Property(name, th.StringType)
        for name in (
            "title",
            "description",
            "industry",
            "website",
            "email",
            "phone",
            "mobile",
            "fax",
            "twitter",
            "facebook",
            "linkedin",
            "skype",
        )
    ]


def _tags_and_custom_fields() -> list[th.Property]:
    return [
        th.Property("tags", th.ArrayType(th.StringType)),
        th.Property(
            "custom_fields",
            th.ObjectType(additional_properties=True),
            description="Values keyed by custom-field name (string, list, bool, object ...)",
        ),
    ]


CONTACT = th.PropertiesList(
    _id(),
    th.Property("creator_id", th.IntegerType),
    th.Property("owner_id", th.IntegerType),
    th.Property("is_organization", th.BooleanType),
    th.Property("contact_id", th.IntegerType, description="Organisation of a person"),
    th.Property("parent_organization_id", th.IntegerType),
    th.Property("name", th.StringType, description="Organisation name"),
    th.Property("first_name", th.StringType),
    th.Property("last_name", th.StringType),
    th.Property("customer_status", th.StringType, description="none, current or past"),
    th.Property("prospect_status", th.StringType, description="none, current or lost"),
    *_party_fields(),
    th.Property("address", _ADDRESS),
    th.Property("billing_address", _ADDRESS),
    th.Property("shipping_address", _ADDRESS),
    *_tags_and_custom_fields(),
    *_stamps(),
).to_dict()

LEAD = th.PropertiesList(
    _id(),
    th.Property("creator_id", th.IntegerType),
    th.Property("owner_id", th.IntegerType),
    th.Property("first_name", th.StringType),
    th.Property("last_name", th.StringType),
    th.Property("organization_name", th.StringType),
    th.Property("status", th.StringType, description="Lead status name"),
    th.Property("source_id", th.IntegerType),
    th.Property("unqualified_reason_id", th.IntegerType),
    *_party_fields(),
    th.Property("address", _ADDRESS),
    *_tags_and_custom_fields(),
    *_stamps(),
).to_dict()

DEAL = th.PropertiesList(
    _id(),
    th.Property("creator_id", th.IntegerType),
    th.Property("owner_id", th.IntegerType),
    th.Property("name", th.StringType),
    th.Property(
        "value",
        th.StringType,
        description='Decimal amount as Sell sends it, a string such as "1000.50"',
    ),
    th.Property("currency", th.StringType, description="ISO 4217 code"),
    th.Property("hot", th.BooleanType),
    th.Property("stage_id", th.IntegerType),
    th.Property("last_stage_change_at", th.DateTimeType),
    th.Property("last_stage_change_by_id", th.IntegerType),
    th.Property("last_activity_at", th.DateTimeType),
    th.Property("source_id", th.IntegerType),
    th.Property("loss_reason_id", th.IntegerType),
    th.Property("unqualified_reason_id", th.IntegerType),
    th.Property("dropbox_email", th.StringType),
    th.Property("contact_id", th.IntegerType, description="Primary contact"),
    th.Property("organization_id", th.IntegerType),
    th.Property("estimated_close_date", th.DateType),
    th.Property("customized_win_likelihood", th.IntegerType, description="0-100"),
    *_tags_and_custom_fields(),
    *_stamps(),
    th.Property("added_at", th.DateTimeType),
).to_dict()

#: A lead conversion (resource page ``sales-crm/resources/lead-conversions``): immutable, so it has
#: ``created_at`` and no ``updated_at``. The ids name what the conversion made; any may be null.
LEAD_CONVERSION = th.PropertiesList(
    _id(),
    th.Property(
        "lead_id", th.IntegerType, description="The converted lead (Sell may no longer list it)"
    ),
    th.Property("individual_id", th.IntegerType, description="Person contact made from the lead"),
    th.Property(
        "organization_id", th.IntegerType, description="Organisation contact of the conversion"
    ),
    th.Property("deal_id", th.IntegerType, description="Deal made by the conversion"),
    th.Property("creator_id", th.IntegerType, description="User who converted the lead"),
    th.Property("created_at", th.DateTimeType),
).to_dict()

STAGE = th.PropertiesList(
    _id(),
    th.Property("name", th.StringType),
    th.Property("category", th.StringType, description="incoming, in_progress, won, lost, ..."),
    th.Property("active", th.BooleanType, description="True for stages of open deals"),
    th.Property("position", th.IntegerType),
    th.Property("likelihood", th.IntegerType, description="Win likelihood in percent"),
    th.Property("pipeline_id", th.IntegerType),
    *_stamps(),
).to_dict()

PIPELINE = th.PropertiesList(
    _id(),
    th.Property("name", th.StringType),
    th.Property("disabled", th.BooleanType),
    *_stamps(),
).to_dict()

USER = th.PropertiesList(
    _id(),
    th.Property("name", th.StringType),
    th.Property("email", th.StringType),
    th.Property("status", th.StringType),
    th.Property("role", th.StringType),
    th.Property("confirmed", th.BooleanType),
    th.Property("invited", th.BooleanType),
    th.Property("detached", th.BooleanType),
    th.Property("sell_login_disabled", th.BooleanType),
    th.Property("phone_number", th.StringType),
    th.Property("roles", th.ArrayType(th.ObjectType(additional_properties=True))),
    th.Property("team_name", th.StringType),
    th.Property("group", th.ObjectType(additional_properties=True)),
    th.Property("reports_to", th.IntegerType),
    th.Property("system_tags", th.ArrayType(th.StringType)),
    th.Property("timezone", th.StringType),
    th.Property("zendesk_user_id", th.StringType),
    th.Property("identity_type", th.StringType),
    *_stamps(),
    th.Property("deleted_at", th.DateTimeType),
).to_dict()

CUSTOM_FIELD = th.PropertiesList(
    _id(),
    th.Property("name", th.StringType),
    th.Property("type", th.StringType, description="address, bool, date, list, number, ..."),
    th.Property(
        "choices",
        th.ArrayType(th.CustomType({})),
        description="Options of list and multi_select_list fields",
    ),
    th.Property("for_company", th.BooleanType),
    th.Property("for_contact", th.BooleanType),
    th.Property("resource_type", th.StringType),
    *_stamps(),
).to_dict()
