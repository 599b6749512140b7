"""singer-sdk's built-in target tests, curated for contact sync targets (contact_mapping.testing).

The config points at a closed port: every canned stream must be ignored without reaching Sell.
"""

from __future__ import annotations

from contact_mapping.testing import curated_target_suite
from singer_sdk.testing import get_target_test_class
from target_sell_contacts.target import TargetSellContacts

TestTargetSellContacts = get_target_test_class(
    TargetSellContacts,
    config={
        "api_token": "s" * 64,
        "api_url": "http://127.0.0.1:9",
        "ledger_url": "sqlite:///:memory:",
        "max_retries": 0,
    },
    custom_suites=[curated_target_suite()],
    include_target_tests=False,
)
