"""The singer-sdk target tests both targets run (target-postgres pattern), curated in one place.

Kept: the CLI prints, the protocol checks the SDK enforces for every target (record before
schema, invalid schema, missing key property), and the canned streams. Every canned stream is a
stream our targets do not sync (like Meltano's ``config test`` stream): each must be accepted
and ignored without a request. Callers point the config at a closed port, so any attempt to reach
Sell or Exchange fails the test.

Left out, with reasons:
- ``TargetSchemaNoProperties`` / ``TargetRecordMissingRequiredProperty`` /
  ``TargetRecordMissingOptionalFields``: warehouse semantics (empty tables, nullable columns)
  with no counterpart in a contact sync; records with missing fields are covered by each
  target's own rule tests (a missing field never clears the other side, S5.4).
- ``TargetMultipleStateMessages``: commented out in the SDK suite itself; STATE behaviour (none
  past an unwritten record) is asserted by each target's crash and fault tests.

Imported by test modules only: it needs singer-sdk's testing extra (pytest).
"""

from __future__ import annotations

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


def curated_target_suite() -> SingerTestSuite:
    """The SDK target tests that fit a contact sync target (see the module docstring)."""
    return SingerTestSuite(
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
