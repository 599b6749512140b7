"""Settings of target-exchange (SPEC §3): the shared Exchange connection fragment plus our own.

``retry_max_wait`` belongs to the shared fragment (``ExchangeSettings.retry_max_wait``): the
bound holds for tap-exchange-contacts and for the connection probe alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contact_mapping.target_settings import DEFAULT_REGION, DEFAULT_TENANT, target_settings
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.settings import ExchangeSettings, connection_settings
from singer_sdk import typing as th


def config_schema() -> dict[str, Any]:
    """JSON schema for the SDK and Meltano: connection settings first, then the target's."""
    props = connection_settings()
    for prop in (
        th.Property(
            "folder",
            th.StringType,
            description=(
                "Contact folder for NEW contacts, as a path below Contacts (e.g. 'Sell' or "
                "'Contacts/Sell'); created when missing. Default: the Contacts folder itself."
            ),
        ),
        th.Property(
            "exchange_id_field",
            th.StringType,
            description=(
                "Sell custom field holding the Exchange item id (as set for "
                "target-sell-contacts): a Sell record naming its item links to it first, even "
                "when the run that created it crashed before recording the link."
            ),
        ),
        *target_settings(),  # tenant, ledger_url, report_path, dry_run, default_region (shared)
    ):
        props.append(prop)
    return props.to_dict()


def _text(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


@dataclass(frozen=True)
class TargetSettings:
    """Validated settings; secrets stay out of ``repr`` (ExchangeSettings hides its own)."""

    exchange: ExchangeSettings
    folder: str | None
    tenant: str
    ledger_url: str | None
    report_path: str | None
    default_region: str
    exchange_id_field: str | None = None
    dry_run: bool = False

    def __repr__(self) -> str:
        return (
            f"TargetSettings({self.exchange!r}, folder={self.folder!r}, tenant={self.tenant!r}, "
            f"report_path={self.report_path!r})"
        )

    @property
    def folder_path(self) -> tuple[str, ...]:
        """``folder`` as path parts below Contacts (a leading 'Contacts/' is optional)."""
        if not self.folder:
            return ()
        parts = [p.strip() for p in self.folder.replace("\\", "/").split("/") if p.strip()]
        if parts and parts[0].casefold() == "contacts":
            parts = parts[1:]
        return tuple(parts)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        """Check every setting before any request; errors name the setting (S10.3)."""
        exchange = ExchangeSettings.from_config(config)
        region = (_text(config, "default_region") or DEFAULT_REGION).upper()
        if len(region) != 2 or not region.isalpha():
            msg = "Setting 'default_region': must be a two-letter region code like US or DE."
            raise ExchangeSetupError(msg, setting="default_region")
        tenant = _text(config, "tenant") or DEFAULT_TENANT
        settings = cls(
            exchange=exchange,
            folder=_text(config, "folder"),
            tenant=tenant,
            ledger_url=_text(config, "ledger_url"),
            report_path=_text(config, "report_path"),
            default_region=region,
            exchange_id_field=_text(config, "exchange_id_field"),
            dry_run=bool(config.get("dry_run", False)),
        )
        if settings.folder and not settings.folder_path:
            msg = "Setting 'folder': name a folder below Contacts, e.g. 'Sell'."
            raise ExchangeSetupError(msg, setting="folder")
        return settings
