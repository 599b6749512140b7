"""Sinks of target-exchange: one batch sink for Sell ``contacts`` and ``leads``, and a sink
that ignores every other stream (Meltano's ``config test`` stream included) without writing."""

from __future__ import annotations

from typing import Any

from singer_sdk import BatchSink, RecordSink


class SellRecordsSink(BatchSink):
    """Collects a batch and hands it to the run's sync engine (as few EWS requests as possible).

    500 records per batch: five CreateItem/UpdateItem/GetItem requests of 100 at most, and a
    batch small enough that a crash repeats little work.
    """

    MAX_SIZE_DEFAULT = 500

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.owner = target
        target.engine()  # connect, check the master category list: before any record

    def process_record(self, record: dict, context: dict) -> None:
        context.setdefault("records", []).append(record)

    def process_batch(self, context: dict) -> None:
        records = context.get("records") or []
        if records:
            self.owner.engine().process(self.stream_name, records)
        context["records"] = []

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        """Keep ISO strings as the tap sent them (the ledger compares ``updated_at`` as text)."""
        return


class LeadConversionsSink(RecordSink):
    """Each conversion applied as it arrives (S6): the link of the lead's Exchange contact
    moves to the new Sell contact before that contact's record is processed, whatever the sinks'
    drain order (tap-sell emits ``lead_conversions`` first)."""

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.owner = target
        target.engine()

    def process_record(self, record: dict, context: dict) -> None:
        self.owner.engine().process(self.stream_name, [record])


class IgnoredStreamSink(RecordSink):
    """A stream target-exchange does not sync: one log line, nothing written."""

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.logger.info("stream %r is not a Sell contacts/leads stream: ignored", self.stream_name)
        target.report.ignored_streams.add(self.stream_name)

    def process_record(self, record: dict, context: dict) -> None:
        return
