"""Settings of target-sell-contacts (SPEC §3) as a JSON schema for the SDK and Meltano."""

from __future__ import annotations

from contact_mapping.target_settings import target_settings
from singer_sdk import typing as th

DEFAULT_API_URL = "https://api.getbase.com"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_token",
        th.StringType,
        required=True,
        secret=True,
        title="API token",
        description="Sell personal access token (64 characters).",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description="Sell API base URL (no trailing /v2).",
    ),
    th.Property(
        "overwritten_values_field",
        th.StringType,
        description=(
            "Text custom field (contacts and leads) that keeps values lost in a conflict; "
            "when the account has no such field they go to a note on the record."
        ),
    ),
    th.Property(
        "exchange_id_field",
        th.StringType,
        description=("Custom field that holds the Exchange item id (a marker, compared exactly)."),
    ),
    th.Property(
        "create_companies",
        th.BooleanType,
        default=True,
        description="Create the Sell organisation named by a contact's company when missing.",
    ),
    *target_settings(),  # tenant, ledger_url, report_path, default_region (shared)
    th.Property(
        "requests_per_second",
        th.NumberType,
        default=10,
        description="Sell requests per second for this token, shared by all threads.",
    ),
    th.Property(
        "max_in_flight",
        th.IntegerType,
        default=4,
        description="Sell requests in flight at once.",
    ),
    th.Property(
        "verify_ssl",
        th.BooleanType,
        default=True,
        description="Verify TLS certificates (turn off only for a test server).",
    ),
    th.Property("ca_bundle", th.StringType, description="PEM CA bundle for a private CA."),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        description="Seconds to wait for one Sell response.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        description="Retries of one Sell request on 429, 5xx and connection errors.",
    ),
).to_dict()
