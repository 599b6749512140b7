"""Settings both targets declare alike (SPEC §3 "Both targets"), as one schema fragment.

target-sell-contacts and target-exchange share the ledger and the report, so these must mean the
same in both (``dry_run`` too: S14); each target adds its own properties around this fragment.
"""

from __future__ import annotations

from singer_sdk import typing as th

DEFAULT_TENANT = "default"
DEFAULT_REGION = "US"


def target_settings() -> th.PropertiesList:
    """A fresh fragment; a target unpacks it into its own ``PropertiesList`` (or ``append``s)."""
    return th.PropertiesList(
        th.Property(
            "tenant",
            th.StringType,
            default=DEFAULT_TENANT,
            description="Tenant name scoping the ledger rows.",
        ),
        th.Property(
            "ledger_url",
            th.StringType,
            secret=True,
            description=(
                "SQLAlchemy URL of the sync ledger both targets share (default a SQLite file "
                "under the Meltano system directory; PostgreSQL for several workers)."
            ),
        ),
        th.Property("report_path", th.StringType, description="Write the run report as JSON here."),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description=(
                "Preview (S14): plan matches, creates, updates and conflicts and report them, "
                "but write nothing to the destination and change no link in the ledger."
            ),
        ),
        th.Property(
            "default_region",
            th.StringType,
            default=DEFAULT_REGION,
            description="Region for phone numbers written without a country code.",
        ),
    )
