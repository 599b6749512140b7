"""Settings of target-sell-contacts (SPEC §3) as a JSON schema for the SDK and Meltano."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contact_mapping.target_settings import DEFAULT_REGION, DEFAULT_TENANT, target_settings
from singer_sdk import typing as th

from target_sell_contacts.preflight import SetupError

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


@dataclass
class Settings:
    api_url: str
    api_token: str = field(repr=False)
    tenant: str
    ledger_url: str | None = field(repr=False)  # the setting; open_ledger supplies the default
    report_path: str | None
    exchange_id_field: str | None
    overwritten_values_field: str | None
    create_companies: bool
    default_region: str
    requests_per_second: float
    max_in_flight: int
    verify: bool | str
    timeout: float
    max_retries: int
    dry_run: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        verify: bool | str = bool(config.get("verify_ssl", True))
        if config.get("ca_bundle"):
            verify = str(config["ca_bundle"])
        token = str(config.get("api_token") or "")
        if not token.strip():
            msg = "api_token: the Sell API token is not set"
            raise SetupError(msg)
        return cls(
            api_url=str(config.get("api_url") or "https://api.getbase.com"),
            api_token=token,
            tenant=str(config.get("tenant") or DEFAULT_TENANT),
            ledger_url=config.get("ledger_url"),
            report_path=config.get("report_path") or None,
            exchange_id_field=(config.get("exchange_id_field") or "").strip() or None,
            overwritten_values_field=(config.get("overwritten_values_field") or "").strip() or None,
            create_companies=bool(config.get("create_companies", True)),
            default_region=str(config.get("default_region") or DEFAULT_REGION),
            requests_per_second=float(config.get("requests_per_second", 10) or 0),
            max_in_flight=max(1, int(config.get("max_in_flight") or 4)),
            verify=verify,
            timeout=float(config.get("request_timeout") or 60),
            max_retries=int(config.get("max_retries", 8)),
            dry_run=bool(config.get("dry_run", False)),
        )
