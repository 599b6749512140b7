"""singer-sdk's built-in target tests, curated for contact sync targets (contact_mapping.testing).

The config points at a closed port: every canned stream must be ignored without reaching Exchange.
"""

from __future__ import annotations

from contact_mapping.testing import curated_target_suite
from singer_sdk.testing import get_target_test_class
from target_exchange.target import TargetExchange

TestTargetExchange = get_target_test_class(
    TargetExchange,
    config={
        "service_endpoint": "http://127.0.0.1:9/EWS/Exchange.asmx",
        "primary_smtp_address": "nobody@example.com",
        "password": "not-used",
        "auth_type": "basic",
        "server_version": "15.1.2507.6",
        "ledger_url": "sqlite:///:memory:",
    },
    custom_suites=[curated_target_suite()],
    include_target_tests=False,
)
