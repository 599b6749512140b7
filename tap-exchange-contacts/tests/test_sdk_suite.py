"""singer-sdk's built-in tap tests, run for real against the EWS sandbox."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_exchange_contacts.tap import TapExchangeContacts

from .conftest import tap_config

pytestmark = pytest.mark.subprocess

# Filled in by the class fixture below once the sandbox runs; the SDK reads it lazily.
CONFIG: dict = {"primary_smtp_address": "sdk@example.com", "categories": ["Clients", "Partners"]}

_Base = get_tap_test_class(
    TapExchangeContacts,
    config=CONFIG,
    parse_env_config=False,
    suite_config=SuiteConfig(max_records_limit=500),
)


class TestTapExchangeContacts(_Base):
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _point_at_sandbox(cls, ews) -> None:
        CONFIG.update(tap_config(ews, "sdk@example.com"))
