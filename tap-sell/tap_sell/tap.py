"""tap-sell: settings, their early validation, the shared request pacer and stream discovery."""

from __future__ import annotations

import math
import os
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlparse

from pyrate_limiter import Limiter, Rate
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_sell.incremental import parse_time
from tap_sell.streams import STREAM_TYPES

TOKEN_LENGTH = 64  # Sell personal access tokens (reference §1)


def _package_version() -> str:
    try:
        return version("tap-sell")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def config_problems(config: dict) -> list[str]:
    """What is wrong with the settings, as messages that name the setting (never its value)."""
    problems: list[str] = []
    token = config.get("api_token")
    if isinstance(token, str) and (len(token) != TOKEN_LENGTH or any(c.isspace() for c in token)):
        problems.append(
            f"api_token must be a Sell access token of {TOKEN_LENGTH} characters without "
            f"whitespace (the one given has {len(token)} characters"
            f"{', with whitespace' if any(c.isspace() for c in token) else ''})"
        )
    url = config.get("api_url")
    if url is not None:
        parsed = urlparse(str(url))
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            problems.append(
                f"api_url must be an http(s) URL such as https://api.getbase.com (got {url!r})"
            )
    if start := config.get("start_date"):
        try:
            parse_time(start)
        except ValueError:
            problems.append(f"start_date must be an ISO 8601 date or date-time (got {start!r})")
    rps = config.get("requests_per_second")
    if rps is not None and (not isinstance(rps, int | float) or rps < 0):
        problems.append("requests_per_second must be a number >= 0 (0 turns pacing off)")
    bundle = config.get("ca_bundle")
    if bundle and not os.path.exists(bundle):
        problems.append(f"ca_bundle {bundle!r} does not exist")
    return problems


class TapSell(Tap):
    """Singer tap for the Zendesk Sell REST API v2."""

    name = "tap-sell"
    package_name = "tap-sell"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_token",
            th.StringType,
            required=True,
            secret=True,
            title="API token",
            description="Sell personal access token (64 characters)",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.getbase.com",
            title="API URL",
            description="Sell API base URL, without /v2",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Ignore contacts, leads and deals last updated, and lead conversions"
            " made, before this moment",
        ),
        th.Property(
            "requests_per_second",
            th.NumberType,
            default=10,
            title="Requests per second",
            description="Client-side pacing; Sell allows 10 per token (0 turns pacing off)",
        ),
        th.Property(
            "user_agent",
            th.StringType,
            title="User-Agent",
            description="User-Agent header Sell requires (default tap-sell/<version>)",
        ),
        th.Property(
            "verify_ssl",
            th.BooleanType,
            default=True,
            title="Verify TLS",
            description="Verify the server's TLS certificate; turn off only for testing",
        ),
        th.Property(
            "ca_bundle",
            th.StringType,
            title="CA bundle",
            description="Path of a PEM CA bundle to verify the server's certificate with",
        ),
    ).to_dict()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if problems := config_problems(dict(self.config)):
            raise ConfigValidationError("Invalid tap-sell settings", errors=problems)

    @cached_property
    def user_agent(self) -> str:
        return self.config.get("user_agent") or f"tap-sell/{_package_version()}"

    @property
    def tls_verify(self) -> bool | str:
        """A CA bundle path when given, else the ``verify_ssl`` switch (default on)."""
        if bundle := self.config.get("ca_bundle"):
            return str(bundle)
        return bool(self.config.get("verify_ssl", True))

    @cached_property
    def limiter(self) -> Limiter | None:
        """One pacer for all streams: the limit is per token, not per endpoint."""
        rps = float(self.config.get("requests_per_second", 10) or 0)
        if rps <= 0:
            return None
        interval_ms = math.ceil(1000 / rps)
        return Limiter(Rate(1, interval_ms))

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapSell.cli()
