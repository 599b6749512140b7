"""target-sell-contacts: Exchange contacts (the ``contacts`` stream) into Zendesk Sell."""

from __future__ import annotations

import typing as t

from singer_sdk import Target
from singer_sdk.sinks import Sink

from target_sell_contacts.run import SyncRun, empty_report
from target_sell_contacts.settings import CONFIG_SCHEMA
from target_sell_contacts.sinks import CONTACTS_STREAM, ContactsSink, IgnoredStreamSink


class TargetSellContacts(Target):
    """Matches, merges and upserts Exchange contacts into Sell through the shared ledger."""

    name = "target-sell-contacts"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = ContactsSink
    #: One sink does the work; its own thread pool keeps ``max_in_flight`` requests going.
    _MAX_PARALLELISM = 1

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1
        self._run: t.Any = None
        _LIVE.append(self)

    @property
    def run(self) -> t.Any:
        """The run context (Sell client, ledger, report), opened once on first real use."""
        if self._run is None:
            self._run = SyncRun.open(dict(self.config), self.logger)
        return self._run

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name == CONTACTS_STREAM:
            return ContactsSink
        return IgnoredStreamSink

    def process_endofpipe(self) -> None:
        try:
            super().process_endofpipe()
        except BaseException:
            self.close_run(failed=True)
            raise
        self.close_run(failed=False)

    def close_run(self, *, failed: bool) -> None:
        """Write the S12 report (also for a failed run) and release the client and ledger."""
        if self._run is not None:
            self._run.close(failed=failed)
        elif not failed:
            # Nothing reached Sell (only ignored streams or no input): still report the run.
            empty_report(dict(self.config), self.logger, self._ignored_streams())

    def _ignored_streams(self) -> list[str]:
        return [
            name for name, sink in self._sinks_active.items() if isinstance(sink, IgnoredStreamSink)
        ]

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        try:
            super().invoke(*args, **kwargs)
        except BaseException:
            for target in _LIVE:
                if target._run is not None and not target._run.closed:
                    target.close_run(failed=True)
            raise


#: Targets of this process, so a failure anywhere still writes their run report.
_LIVE: list[TargetSellContacts] = []


if __name__ == "__main__":
    TargetSellContacts.cli()
