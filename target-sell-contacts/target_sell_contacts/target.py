"""target-sell-contacts entry point (skeleton)."""

from __future__ import annotations

from singer_sdk import RecordSink, Target
from singer_sdk import typing as th


class _NotYet(RecordSink):
    def process_record(self, record: dict, context: dict) -> None:
        raise NotImplementedError


class TargetSellContacts(Target):
    """Skeleton."""

    name = "target-sell-contacts"
    config_jsonschema = th.PropertiesList(th.Property("tenant", th.StringType)).to_dict()
    default_sink_class = _NotYet
