"""Sinks: ``contacts`` is written to Sell in batches; every other stream is ignored."""

from __future__ import annotations

from typing import Any

from singer_sdk.sinks import BatchSink, RecordSink

CONTACTS_STREAM = "contacts"


class ContactsSink(BatchSink):
    """Exchange contacts, written a few hundred at a time with as few requests as possible."""

    #: Big enough to amortise the id look-ups, small enough that a crash redoes little.
    MAX_SIZE_DEFAULT = 200

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        self.sync_target = target
        super().__init__(target, *args, **kwargs)

    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        # The SDK drops every ``_sdc_*`` key unless add_record_metadata is on, but
        # ``_sdc_deleted_at`` is how the tap says "deleted in Exchange" (S6): keep it.
        deleted_at = record.get("_sdc_deleted_at")
        super()._remove_sdc_metadata_from_record(record)
        if deleted_at:
            record["_sdc_deleted_at"] = deleted_at

    def setup(self) -> None:
        # Opening the run checks the token and custom fields before any record is read (S10.3).
        _ = self.sync_target.run

    def process_batch(self, context: dict) -> None:
        records = context.get("records") or []
        if not records:
            return
        self.sync_target.run.process_batch(records)
        self.tally_record_written(len(records))


class IgnoredStreamSink(RecordSink):
    """Any other stream (e.g. Meltano's ``meltano_test_stream``): logged once, never written."""

    def setup(self) -> None:
        self.logger.info(
            "stream %r is not synced by target-sell-contacts (only %r); ignoring its records",
            self.stream_name,
            CONTACTS_STREAM,
        )

    def process_record(self, record: dict, context: dict[str, Any]) -> None:
        return
