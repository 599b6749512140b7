"""Settings of target-exchange (SPEC §3): the shared Exchange connection fragment plus our own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contact_mapping.exchange.errors import ExchangeSetupError
from contact_mapping.exchange.settings import ExchangeSettings, connection_settings
from contact_mapping.target_settings import DEFAULT_REGION, DEFAULT_TENANT, target_settings
from singer_sdk import typing as th

DEFAULT_RETRY_MAX_WAIT = 300.0


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
        *target_settings(),  # tenant, ledger_url, report_path, default_region (shared)
        th.Property(
            "retry_max_wait",
            th.NumberType,
            default=DEFAULT_RETRY_MAX_WAIT,
            description=(
                "Longest total back-off (seconds) when Exchange answers ErrorServerBusy or is "
                "unreachable; after it the run fails without emitting STATE past unwritten records."
            ),
        ),
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
    retry_max_wait: float = DEFAULT_RETRY_MAX_WAIT

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
        raw_wait = config.get("retry_max_wait")
        try:
            retry_max_wait = float(DEFAULT_RETRY_MAX_WAIT if raw_wait is None else raw_wait)
        except (TypeError, ValueError):
            retry_max_wait = -1.0
        if not 0 < retry_max_wait <= 86_400:
            msg = "Setting 'retry_max_wait': seconds between 0 and 86400, e.g. 300."
            raise ExchangeSetupError(msg, setting="retry_max_wait")
        settings = cls(
            exchange=exchange,
            folder=_text(config, "folder"),
            tenant=tenant,
            ledger_url=_text(config, "ledger_url"),
            report_path=_text(config, "report_path"),
            default_region=region,
            retry_max_wait=retry_max_wait,
        )
        if settings.folder and not settings.folder_path:
            msg = "Setting 'folder': name a folder below Contacts, e.g. 'Sell'."
            raise ExchangeSetupError(msg, setting="folder")
        return settings
