"""tap-exchange-contacts entry point (skeleton)."""

from __future__ import annotations

from singer_sdk import Stream, Tap
from singer_sdk import typing as th


class TapExchangeContacts(Tap):
    """Exchange contacts tap."""

    name = "tap-exchange-contacts"
    config_jsonschema = th.PropertiesList(
        th.Property("primary_smtp_address", th.StringType, required=True),
        th.Property("password", th.StringType, secret=True),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return []
