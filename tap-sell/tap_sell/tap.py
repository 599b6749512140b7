"""tap-sell entry point (skeleton; streams arrive with the tap-sell work)."""

from __future__ import annotations

from singer_sdk import Stream, Tap
from singer_sdk import typing as th


class TapSell(Tap):
    """Zendesk Sell tap."""

    name = "tap-sell"
    config_jsonschema = th.PropertiesList(
        th.Property("api_token", th.StringType, required=True, secret=True),
        th.Property("api_url", th.StringType, default="https://api.getbase.com"),
        th.Property("start_date", th.DateTimeType),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return []
