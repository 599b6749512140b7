"""target-exchange: Sell contacts and leads → the mailbox owner's Exchange contacts.

Nothing touches the network until a ``contacts`` or ``leads`` stream arrives: then the settings
are checked, the mailbox reached over EWS or Microsoft Graph (setting ``protocol``) and its
permissions checked (S10.3), the ledger opened and the master category list made right (one
request when nothing changed). Other streams are ignored.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from contact_mapping.ledger import Ledger
from contact_mapping.ledger_url import open_ledger
from contact_mapping.report import ProgressTicker, RunReport
from contact_mapping.sync import SyncEngine
from exchange_mailbox.connect import open_mailbox
from exchange_mailbox.interface import Mailbox as ProtocolMailbox
from singer_sdk import Sink, Target

from .categories import sync_master_list
from .destination import ExchangeDestination
from .mailbox_index import Mailbox
from .retag import retag_renamed
from .settings import TargetSettings, config_schema
from .sinks import IgnoredStreamSink, LeadConversionsSink, SellRecordsSink
from .sync import CONVERSIONS, STREAM_KINDS, SellToExchange

log = logging.getLogger(__name__)


class TargetExchange(Target):
    """Singer target writing Sell contacts and leads into Exchange with the Sell categories."""

    name = "target-exchange"
    config_jsonschema = config_schema()
    default_sink_class = SellRecordsSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Contacts and leads share the matching index and the ledger: drain one sink at a time.
        self.max_parallelism = 1
        self.settings = TargetSettings.from_config(self.config)
        self.report = RunReport(
            target=self.name, tenant=self.settings.tenant, dry_run=self.settings.dry_run
        )
        self._engine: SellToExchange | None = None
        self._box: ProtocolMailbox | None = None
        self._ledger: Ledger | None = None
        self._ticker: ProgressTicker | None = None
        self._run_id: int | None = None
        self._lock = threading.Lock()

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name == CONVERSIONS:
            return LeadConversionsSink
        return SellRecordsSink if stream_name in STREAM_KINDS else IgnoredStreamSink

    def engine(self) -> SellToExchange:
        """The run's sync engine, set up on first use (connection errors surface here, S10.3)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._start()
            return self._engine

    def _start(self) -> SellToExchange:
        settings = self.settings
        box = open_mailbox(settings.exchange)
        self._box = box
        # Connect and check the permissions a writing run needs, before any write (S10.3);
        # over EWS bounded by retry_max_wait from the probe on.
        box.check(write=not settings.dry_run)
        self._ledger = open_ledger(settings.ledger_url, settings.tenant)
        if not settings.dry_run:
            self._run_id = self._ledger.start_run(self.name)
        mailbox = Mailbox(box, settings.folder_path, settings.default_region)
        known_ids = self._ledger.category_ids()
        change = sync_master_list(box, dry_run=settings.dry_run, known_ids=known_ids)
        if change.ids != known_ids and not settings.dry_run:
            self._ledger.remember_category_ids(change.ids)
        if change.renamed and not settings.dry_run:
            retag_renamed(box, mailbox, change.renamed)
        self._ticker = ProgressTicker(self.report, self.logger).__enter__()
        destination = ExchangeDestination(box, mailbox, settings.default_region)
        engine = SyncEngine(
            "sell", self._ledger, destination, self.report, logger=log, dry_run=settings.dry_run
        )
        return SellToExchange(
            engine, self._ledger, settings.default_region, settings.exchange_id_field
        )

    def process_endofpipe(self) -> None:
        try:
            super().process_endofpipe()
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        data = self.report.finish(self.logger, self.settings.report_path)
        if self._ledger is not None:
            if self._run_id is not None:
                self._ledger.finish_run(self._run_id, data.get("streams", {}))
            self._ledger.close()
        if self._box is not None:
            self._box.close()


if __name__ == "__main__":
    TargetExchange.cli()
