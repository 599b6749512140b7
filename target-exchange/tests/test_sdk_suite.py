"""Curated singer-sdk target suite (target-postgres pattern).

Kept: the CLI prints, the protocol checks the SDK enforces for every target (record before
schema, invalid schema, missing key property), and the canned streams. Every canned stream is a
stream this target does not sync (like Meltano's ``config test`` stream): it must be accepted and
ignored without a request. The config points at a closed port, so any attempt to reach Exchange
would fail the test.

Left out, with reasons:
- ``TargetSchemaNoProperties`` / ``TargetRecordMissingRequiredProperty`` /
  ``TargetRecordMissingOptionalFields``: warehouse semantics (empty tables, nullable columns)
  with no counterpart in a contact sync; ``contacts``/``leads`` records with missing fields are
  covered by the in-process rule tests (a missing field never clears Exchange, S5.4).
- ``TargetMultipleStateMessages``: commented out in the SDK suite itself; STATE behaviour (none
  past an unwritten record) is asserted by the crash and fault tests.
"""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetArrayData,
    TargetCamelcaseComplexSchema,
    TargetCamelcaseTest,
    TargetCliPrintsTest,
    TargetDuplicateRecords,
    TargetEncodedStringData,
    TargetInvalidSchemaTest,
    TargetNoPrimaryKeys,
    TargetOptionalAttributes,
    TargetPrimaryKeyUpdates,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
    TargetSchemaUpdates,
    TargetSpecialCharsInAttributes,
)
from target_exchange.target import TargetExchange

target_tests = SingerTestSuite(
    kind="target",
    tests=[
        TargetCliPrintsTest,
        TargetRecordBeforeSchemaTest,
        TargetInvalidSchemaTest,
        TargetRecordMissingKeyProperty,
        TargetArrayData,
        TargetCamelcaseComplexSchema,
        TargetCamelcaseTest,
        TargetDuplicateRecords,
        TargetEncodedStringData,
        TargetNoPrimaryKeys,
        TargetOptionalAttributes,
        TargetPrimaryKeyUpdates,
        TargetSchemaUpdates,
        TargetSpecialCharsInAttributes,
    ],
)

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
    custom_suites=[target_tests],
    include_target_tests=False,
)
