"""One run of the target: the Sell client, the ledger, the engine and the report.

At open: the token and custom fields are checked (S10.3), the ledger opened, creates a crashed
run left half done settled, and values target-exchange queued kept in Sell (S5.2). Each batch of
``contacts`` records is turned into the engine's ``Incoming`` form and handed to the one sync
engine (``contact_mapping.sync``) with Sell as its destination (``destination.SellDestination``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from contact_mapping.exchange_map import from_exchange
from contact_mapping.ledger import Ledger
from contact_mapping.ledger_url import open_ledger
from contact_mapping.report import ProgressTicker
from contact_mapping.sync import Incoming, SyncEngine, sell_ref
from contact_mapping.target_settings import DEFAULT_TENANT

from target_sell_contacts.companies import Companies
from target_sell_contacts.destination import PATHS, SellDestination
from target_sell_contacts.overwritten_delivery import SellRunReport, deliver_overwritten
from target_sell_contacts.preflight import check_account
from target_sell_contacts.sell_client import SellClient
from target_sell_contacts.settings import Settings

TARGET_NAME = "target-sell-contacts"
STREAM = "contacts"


def empty_report(config: Mapping[str, Any], logger: logging.Logger, ignored: Sequence[str]) -> None:
    """The report of a run that never touched Sell (only ignored streams, or no input)."""
    report = SellRunReport(TARGET_NAME, str(config.get("tenant") or DEFAULT_TENANT))
    report.ignored_streams.update(ignored)
    report.dry_run = bool(config.get("dry_run", False))
    report.finish(logger, config.get("report_path") or None)


class SyncRun:
    """Everything one run shares between its batches."""

    def __init__(
        self, settings: Settings, client: SellClient, ledger: Ledger, engine: SyncEngine
    ) -> None:
        self.settings = settings
        self.client = client
        self.ledger = ledger
        self.engine = engine
        self.report: SellRunReport = engine.report  # type: ignore[assignment]
        self.logger = engine.logger
        self.closed = False
        self._run_id = None if settings.dry_run else ledger.start_run(TARGET_NAME)
        self._ticker = ProgressTicker(self.report, self.logger).__enter__()

    @classmethod
    def open(cls, config: Mapping[str, Any], logger: logging.Logger) -> SyncRun:
        """Check token and custom fields, open the ledger, settle half-done creates."""
        settings = Settings.from_config(config)
        client = SellClient(
            settings.api_url,
            settings.api_token,
            requests_per_second=settings.requests_per_second,
            max_in_flight=settings.max_in_flight,
            verify=settings.verify,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        fields = check_account(
            client,
            exchange_id_field=settings.exchange_id_field,
            overwritten_values_field=settings.overwritten_values_field,
            logger=logger,
        )
        ledger = open_ledger(settings.ledger_url, settings.tenant)
        remember = None if settings.dry_run else ledger.remember_organizations
        companies = Companies(client, create=settings.create_companies, remember=remember)
        destination = SellDestination(
            client,
            companies,
            fields,
            region=settings.default_region,
            max_in_flight=settings.max_in_flight,
            logger=logger,
        )
        report = SellRunReport(TARGET_NAME, settings.tenant, dry_run=settings.dry_run)
        engine = SyncEngine(
            "exchange", ledger, destination, report, logger=logger, dry_run=settings.dry_run
        )
        run = cls(settings, client, ledger, engine)
        engine.resolve_intents()
        if not settings.dry_run:
            # Before the batches: a Sell value Exchange beat is kept before this run overwrites
            # it, and the batches then read (and append to) the field with these lines in it.
            deliver_overwritten(client, ledger, fields, report, logger)
        return run

    def process_batch(self, records: Sequence[dict[str, Any]]) -> None:
        self.engine.process([self.incoming(r) for r in records])

    def incoming(self, record: Mapping[str, Any]) -> Incoming:
        """An Exchange ``contacts`` record in the engine's form."""
        canonical = from_exchange(record, self.settings.default_region)
        return Incoming(
            key=str(record["id"]),
            stream=STREAM,
            canonical=canonical,
            modified=record.get("last_modified_time"),
            marker=record.get("change_key"),
            hint=_sell_link(record.get("sell_link")),
            deleted=bool(record.get("_sdc_deleted_at")),
            label=canonical.display_name
            or " ".join(p for p in (canonical.first_name, canonical.last_name) if p)
            or canonical.email
            or "",
        )

    def close(self, *, failed: bool) -> dict[str, Any]:
        if self.closed:
            return {}
        self.closed = True
        self._ticker.stop()
        data = self.report.finish(self.logger, self.settings.report_path)
        if failed:
            self.logger.error("run failed; the report above covers what was done before it")
        try:
            if self._run_id is not None:
                self.ledger.finish_run(self._run_id, {**data["streams"], "failed": failed})
        finally:
            self.ledger.close()
            self.client.close()
        return data


def _sell_link(value: Any) -> str | None:
    """The Sell-link property ``"contact:123"`` / ``"lead:45"`` as a Sell ref; else None."""
    if not value or not isinstance(value, str) or ":" not in value:
        return None
    kind, _, ident = value.partition(":")
    if kind not in PATHS or not ident.strip().isdigit():
        return None
    return sell_ref(kind, int(ident))
