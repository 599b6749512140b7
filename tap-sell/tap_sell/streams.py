"""The Sell streams: incremental contacts, leads, deals and lead conversions; reference lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tap_sell import schemas
from tap_sell.client import SellStream
from tap_sell.incremental import Action, Bookmark, DescendingPass, parse_time
from tap_sell.pagination import Window, window_after, window_before

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

#: A pass gives up rather than loop if pages keep shifting under it (bounded loop rule).
MAX_STEPS_BACK = 1000
#: Lead conversion pages one run may read (10,000,000 conversions): bounds the cursor loop.
MAX_CONVERSION_PAGES = 100_000


class NewestFirstStream(SellStream):
    """Incremental on ``updated_at`` by reading ``sort_by=updated_at:desc`` down to the bookmark.

    Pages overlap by at least the last handled record, so a page that starts below it (records
    moved up because others were deleted or merged while paging) is noticed and an earlier
    window is read instead: no record is skipped. Records updated while paging jump to the top,
    outside this pass; their new ``updated_at`` is above the bookmark this pass commits, so the
    next run emits them. Records created while paging likewise. Shifts down only repeat records,
    which the pass recognises by id. See ``tap_sell.incremental`` for the state kept.
    """

    replication_key = "updated_at"
    is_sorted = False

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """The pass sets the bookmark itself; the SDK's signpost would cap it at run start."""
        return

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Bookmarks move in ``get_records`` only: newest-first order makes the SDK's max wrong."""
        return

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        state = self.get_context_state(context)
        bookmark = Bookmark.from_state(state, self.config.get("start_date"))
        reading = DescendingPass(bookmark)
        self.logger.info(
            "Reading %s newest first down to %s (%d ids at it, %d resumed spans)",
            self.name,
            bookmark.value.isoformat() if bookmark.value else "the oldest record",
            len(bookmark.ids),
            len(bookmark.spans),
        )
        window: Window = window_after(-1)
        steps_back = 0
        while not reading.finished:
            items = self._read_window(window, context)
            if window.start > 0 and (not items or not reading.reaches(items[0])):
                steps_back += 1
                if steps_back > MAX_STEPS_BACK:
                    msg = f"{self.name}: the list kept shifting while paging; giving up"
                    raise RuntimeError(msg)
                self.logger.info("%s: records moved while paging; re-reading earlier", self.name)
                window = window_before(window)
                continue
            last = window.start - 1
            for index, record in enumerate(items):
                action = reading.classify(record)
                if action is Action.STOP:
                    reading.finished = True
                    break
                if action is Action.EMIT:
                    yield record
                reading.done(record)
                last = window.start + index
            else:
                reading.finished = len(items) < window.size
            reading.write_state(state, self.replication_key)
            window = window_after(last)

    def _read_window(self, window: Window, context: Context | None) -> list[dict]:
        body = self.get_json(
            {**window.params(), "sort_by": "updated_at:desc", **self.extra_params}, context
        )
        return [item["data"] for item in body.get("items") or []]


class ContactsStream(NewestFirstStream):
    name = "contacts"
    path = "/contacts"
    schema = schemas.CONTACT


class LeadsStream(NewestFirstStream):
    name = "leads"
    path = "/leads"
    schema = schemas.LEAD


class DealsStream(NewestFirstStream):
    name = "deals"
    path = "/deals"
    schema = schemas.DEAL

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Keep ``value`` a decimal string even if Sell ever sends a JSON number."""
        value = row.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            row["value"] = str(Decimal(str(value)))
        return row


class LeadConversionsStream(SellStream):
    """Incremental on ``id``: conversions never change, and Sell lists them by id, descending.

    That order is the only one the list offers (no ``sort_by``, no "since" filter), and ids grow
    with every conversion, so the highest id emitted is the bookmark. A run reads newest first
    down to it, following the ``next_page`` links (they carry a ``cursor``: ``page`` ends at 50),
    then emits what it found oldest first. The bookmark thus moves with every record sent, and a
    run stopped anywhere resumes without a gap or a repeat. ``start_date`` skips conversions made
    before it. A run with nothing new costs one request.
    """

    name = "lead_conversions"
    path = "/lead_conversions"
    schema = schemas.LEAD_CONVERSION
    replication_key = "id"
    is_sorted = True

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The bookmark is an id; ``start_date`` applies to ``created_at`` in ``get_records``."""
        return value

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        state = self.get_context_state(context)
        raw = state.get("replication_key_value")
        bookmark = int(raw) if raw is not None and state.get("replication_key") == "id" else None
        start = self.config.get("start_date")
        found = self._newer_than(bookmark, parse_time(start) if start else None, context)
        self.logger.info("%d new lead conversions above %s", len(found), bookmark or "none")
        yield from sorted(found, key=lambda record: int(record["id"]))

    def _newer_than(
        self, bookmark: int | None, oldest: datetime | None, context: Context | None
    ) -> list[dict[str, Any]]:
        """The conversions above ``bookmark`` (made since ``oldest``), newest first."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"per_page": 100}
        for _ in range(MAX_CONVERSION_PAGES):
            body = self.get_json(params, context)
            items = [item["data"] for item in body.get("items") or []]
            for record in items:
                if bookmark is not None and int(record["id"]) <= bookmark:
                    return found
                if oldest is not None and parse_time(record["created_at"]) < oldest:
                    return found
                found.append(record)
            next_page = ((body.get("meta") or {}).get("links") or {}).get("next_page")
            if not items or not next_page:
                return found
            following = dict(parse_qsl(urlsplit(next_page).query))
            if following == params:
                msg = f"{self.name}: next_page links the page just read; giving up"
                raise RuntimeError(msg)
            params = following
        msg = f"{self.name}: more than {MAX_CONVERSION_PAGES} pages; giving up"
        raise RuntimeError(msg)


class StagesStream(SellStream):
    name = "stages"
    path = "/stages"
    schema = schemas.STAGE


class PipelinesStream(SellStream):
    name = "pipelines"
    path = "/pipelines"
    schema = schemas.PIPELINE


class UsersStream(SellStream):
    name = "users"
    path = "/users"
    schema = schemas.USER


class ContactCustomFieldsStream(SellStream):
    """Definitions of the account's custom fields; Sell lists them without paging parameters."""

    name = "contact_custom_fields"
    path = "/contact/custom_fields"
    schema = schemas.CUSTOM_FIELD
    paged = False


class LeadCustomFieldsStream(ContactCustomFieldsStream):
    name = "lead_custom_fields"
    path = "/lead/custom_fields"


class DealCustomFieldsStream(ContactCustomFieldsStream):
    name = "deal_custom_fields"
    path = "/deal/custom_fields"


#: lead_conversions first: a target then knows which lead became which contact before the new
#: contact arrives (target-exchange moves the lead's link to it, S6).
STREAM_TYPES: tuple[type[SellStream], ...] = (
    LeadConversionsStream,
    ContactsStream,
    LeadsStream,
    DealsStream,
    StagesStream,
    PipelinesStream,
    UsersStream,
    ContactCustomFieldsStream,
    LeadCustomFieldsStream,
    DealCustomFieldsStream,
)
