"""singer-sdk's built-in tap tests against a seeded sandbox account."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_sell.tap import TapSell

pytestmark = pytest.mark.subprocess

TOKEN = "t" * 32 + "0123456789abcdef0123456789abcdef"
#: filled in by the ``sdk_config`` fixture once the sandbox is listening
CONFIG: dict = {
    "api_token": TOKEN,
    "api_url": "http://placeholder.invalid",
    "requests_per_second": 0,
}

_SdkSuite = get_tap_test_class(
    TapSell, config=CONFIG, suite_config=SuiteConfig(max_records_limit=150)
)


@pytest.fixture(scope="session")
def sdk_config(sell50) -> dict:
    CONFIG["api_url"] = sell50.base_url
    return CONFIG


@pytest.mark.usefixtures("sdk_config")
class TestTapSellSdkSuite(_SdkSuite):  # type: ignore[valid-type,misc]  # a class made at run time
    """The SDK runner reads ``CONFIG`` at sync time, after the sandbox fixture set its URL."""
