"""Batched EWS reads and writes of contacts, with every outcome classified for the sink.

Why a layer of its own: exchangelib returns some per-item errors in the result list
(``ErrorItemNotFound``, ``ErrorInvalidChangeKey``, ``ErrorItemSave``) but *raises* others, which
aborts the whole chunk although the server may have processed every item of it (reference §0.5,
§6). This module turns both into one outcome per item:

- ``ok`` — written; new id and change key.
- ``not_found`` — the item is gone (deleted in Exchange): the caller retires the link (S6).
- ``conflict`` — stale change key (``ErrorInvalidChangeKey`` returned, ``ErrorIrresolvableConflict``
  raised): the caller re-reads and re-merges; nothing is overwritten blindly.
- ``rejected`` — the server (or exchangelib's own field validation) refused that one item: the
  caller reports and skips it (S10.1).
- ``uncertain`` — a create chunk was aborted by a raised error: some of its items may exist; the
  caller resolves them through the Sell-link property before retrying (no duplicates).
- ``busy`` — CreateItem answered ``ErrorServerBusy`` for that one item. exchangelib would raise it
  from inside the response and resend the WHOLE chunk, creating every other item of it a second
  time; our CreateItem returns it per item instead, and the caller waits ``back_off`` (bounded),
  resolves the item through the Sell-link property and resends only what is missing.

Transient failures (``ErrorServerBusy`` and friends) are retried inside exchangelib by the
connection's retry policy, which honours the server's back-off and gives up once a busy spell
has cost ``retry_max_wait`` seconds (``RateLimitError``); anything transient that still reaches
us is re-raised, so the run fails and no STATE moves past an unwritten record (S10.2).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import requests
from exchangelib import Account, Contact, ItemId
from exchangelib.errors import (
    ErrorInternalServerTransientError,
    ErrorInvalidChangeKey,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
    ErrorServerBusy,
    ErrorStaleObject,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    RateLimitError,
    ResponseMessageError,
    TransportError,
)
from exchangelib.folders import FolderCollection
from exchangelib.items import HARD_DELETE, NEVER_OVERWRITE, SAVE_ONLY, SEND_TO_NONE
from exchangelib.properties import EWSElement
from exchangelib.services import CreateItem

from ..interface import ForeignIdError, Outcome, OutcomeKind, id_protocol
from . import link_property
from .records import FETCH_FIELDS

log = logging.getLogger(__name__)

CHUNK_SIZE = 100
"""EWS batch limit the sync keeps to: at most 100 items per CreateItem/UpdateItem/GetItem."""

Kind = OutcomeKind

TRANSIENT = (
    RateLimitError,
    ErrorServerBusy,
    ErrorInternalServerTransientError,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    requests.exceptions.RequestException,
)
CONFLICTS = (ErrorInvalidChangeKey, ErrorIrresolvableConflict, ErrorStaleObject)


class CreateItemBusyPerItem(CreateItem):
    """CreateItem whose per-item ``ErrorServerBusy`` is returned, not raised.

    Raised, it makes ``EWSService._get_elements`` back off and resend the whole payload — items
    the server already created in that request would be created again. A SOAP-Fault
    ``ErrorServerBusy`` (whole request refused, nothing applied) is still retried by the
    connection's retry policy, which is safe.
    """

    ERRORS_TO_CATCH_IN_RESPONSE = (*CreateItem.ERRORS_TO_CATCH_IN_RESPONSE, ErrorServerBusy)


def is_transient(exc: BaseException) -> bool:
    """Errors that mean "try later", never "this record is bad"."""
    if isinstance(exc, TRANSIENT):
        return True
    # Connection resets, timeouts and malformed answers: TransportError but no ResponseMessage.
    return isinstance(exc, TransportError) and not isinstance(exc, ResponseMessageError)


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if len(text) > 300:
        text = text[:300] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _illegal_in(value: Any, depth: int = 0) -> list[str]:
    if isinstance(value, str):
        return sorted(set(_XML_ILLEGAL.findall(value)))
    if depth > 3 or value is None:
        return []
    if isinstance(value, list | tuple):
        return sorted({c for v in value for c in _illegal_in(v, depth + 1)})
    if isinstance(value, EWSElement):
        found: set[str] = set()
        for f in value.FIELDS:
            found.update(_illegal_in(getattr(value, f.name, None), depth + 1))
        return sorted(found)
    return []


def xml_illegal_fields(item: Contact) -> tuple[list[str], list[str]]:
    """The fields whose text holds characters XML 1.0 cannot carry, and those characters."""
    fields: list[str] = []
    chars: set[str] = set()
    for f in item.FIELDS:
        if f.is_read_only:
            continue
        found = _illegal_in(getattr(item, f.name, None))
        if found:
            fields.append(f.name)
            chars.update(found)
    return fields, sorted(chars)


def chunks(items: Sequence[Any], size: int = CHUNK_SIZE) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EwsWriter:
    """Contact reads and writes on one account, 100 items per request at most."""

    busy_wait: float = 10.0
    """Back-off after a per-item ErrorServerBusy without a hint (exchangelib's RETRY_WAIT),
    doubled per round and capped by ``max_busy_wait``; ``max_busy_rounds`` rounds at most."""
    max_busy_wait: float = 60.0
    max_busy_rounds: int = 5

    def __init__(self, account: Account) -> None:
        self.account = account

    def wait_busy(self, back_off: float, round_no: int) -> None:
        """Honour the server's back-off (or ours, doubling), bounded; a plain blocking wait,
        as exchangelib's own retry policy does."""
        delay = min(back_off or self.busy_wait * 2 ** (round_no - 1), self.max_busy_wait)
        log.info("Exchange busy: waiting %.1f s before resending (round %d)", delay, round_no)
        time.sleep(delay)

    # -- reads -------------------------------------------------------------------------------
    def fetch(self, item_ids: Sequence[str]) -> dict[str, Contact | Exception]:
        """Current items by id (GetItem, only the fields the sync needs, and the parent folder:
        an item moved out of the private folders counts as deleted); gone ones map to
        ``ErrorItemNotFound``."""
        out: dict[str, Contact | Exception] = {}
        unique = []
        for item_id in dict.fromkeys(item_ids):
            if id_protocol(item_id) != "ews":  # a Graph id: not addressable over EWS
                out[item_id] = ForeignIdError(item_id, "ews")
            else:
                unique.append(item_id)
        for chunk in chunks(unique):
            results = self.account.fetch(
                ids=[ItemId(id=i) for i in chunk],
                only_fields=[*FETCH_FIELDS, "parent_folder_id"],
                chunk_size=CHUNK_SIZE,
            )
            for item_id, result in zip(chunk, results, strict=True):
                if isinstance(result, Exception) and is_transient(result):
                    raise result
                if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                    raise result
                out[item_id] = result
        return out

    def find_by_links(self, folders: Sequence[Any], links: Sequence[str]) -> dict[str, list[Any]]:
        """Items carrying each Sell-link value (FindItem restricted on the extended property,
        one request per 100 values). Used to resolve create intents after a crash."""
        found: dict[str, list[Any]] = {}
        if not links or not folders:
            return found
        collection = FolderCollection(account=self.account, folders=list(folders))
        for chunk in chunks(list(dict.fromkeys(links))):
            query = collection.filter(**{f"{link_property.FIELD_NAME}__in": list(chunk)}).only(
                "id", "changekey", "last_modified_time", "categories", link_property.FIELD_NAME
            )
            for item in query:
                if isinstance(item, Exception) or not isinstance(item, Contact):
                    continue
                value = getattr(item, link_property.FIELD_NAME, None)
                if value:
                    found.setdefault(value, []).append(item)
        return found

    # -- writes ------------------------------------------------------------------------------
    def _prevalidate(self, key: Hashable, item: Contact) -> Outcome | None:
        """exchangelib's own field checks (lengths, types) before sending: a record that would
        fail them is rejected alone instead of aborting its chunk. Characters XML 1.0 cannot
        carry (C0 controls such as BEL, VT) would reach Exchange as '?' through exchangelib's
        escaping, silently altered: the record is rejected with a reason instead (S10.1)."""
        try:
            item.clean(version=self.account.version)
        except (ValueError, TypeError) as exc:
            return Outcome("rejected", reason=describe(exc))
        fields, chars = xml_illegal_fields(item)
        if fields:
            shown = ", ".join(repr(c) for c in chars)
            reason = f"{', '.join(fields)}: characters XML 1.0 (EWS) cannot carry: {shown}"
            return Outcome("rejected", reason=reason)
        return None

    def create(
        self, folder: Any, items: Sequence[tuple[Hashable, Contact]]
    ) -> dict[Hashable, Outcome]:
        """CreateItem in chunks of 100; returns an outcome per key."""
        out: dict[Hashable, Outcome] = {}
        ready: list[tuple[Hashable, Contact]] = []
        for key, item in items:
            bad = self._prevalidate(key, item)
            if bad is not None:
                out[key] = bad
            else:
                ready.append((key, item))
        for chunk in chunks(ready):
            try:
                service = CreateItemBusyPerItem(account=self.account, chunk_size=CHUNK_SIZE)
                results = list(
                    service.call(
                        items=[item for _, item in chunk],
                        folder=folder,
                        message_disposition=SAVE_ONLY,
                        send_meeting_invitations=SEND_TO_NONE,
                    )
                )
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("CreateItem of %d contacts aborted: %s", len(chunk), describe(exc))
                for key, _ in chunk:
                    out[key] = Outcome("uncertain", reason=describe(exc))
                continue
            for (key, _), result in zip(chunk, results, strict=True):
                out[key] = self._classify(result)
        return out

    def update(
        self, items: Sequence[tuple[Hashable, Contact, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        """UpdateItem (NeverOverwrite, only the named fields) in chunks of 100."""
        out: dict[Hashable, Outcome] = {}
        ready: list[tuple[Hashable, Contact, Sequence[str]]] = []
        for key, item, fields in items:
            bad = self._prevalidate(key, item)
            if bad is not None:
                out[key] = bad
            else:
                ready.append((key, item, fields))
        for chunk in chunks(ready):
            out.update(self._update_chunk(chunk))
        return out

    def _update_chunk(
        self, chunk: Sequence[tuple[Hashable, Contact, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        try:
            results = self.account.bulk_update(
                items=[(item, list(fields)) for _, item, fields in chunk],
                conflict_resolution=NEVER_OVERWRITE,
                chunk_size=CHUNK_SIZE,
            )
        except CONFLICTS as exc:
            # Raised for one item, aborting the chunk: every item is re-read and re-merged
            # (items the server did write re-merge to "no change").
            return {key: Outcome("conflict", reason=describe(exc)) for key, _, _ in chunk}
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(chunk) == 1:
                return {chunk[0][0]: Outcome("rejected", reason=describe(exc))}
            # One bad item aborted the chunk: isolate it by halves (updates are safe to
            # resend: an already-applied one comes back as a change-key conflict).
            half = len(chunk) // 2
            log.warning("UpdateItem chunk aborted (%s); splitting to isolate", describe(exc))
            return {**self._update_chunk(chunk[:half]), **self._update_chunk(chunk[half:])}
        return {
            key: self._classify(result) for (key, _, _), result in zip(chunk, results, strict=True)
        }

    def delete_copies(self, items: Sequence[Any]) -> None:
        """Hard-delete extra copies of a contact the sync itself created (they carry our link
        property and were never linked, so the user never saw them as synced contacts)."""
        if not items:
            return
        for chunk in chunks(list(items)):
            results = self.account.bulk_delete(
                ids=[(i.id, i.changekey) for i in chunk],
                delete_type=HARD_DELETE,
                chunk_size=CHUNK_SIZE,
            )
            for item, result in zip(chunk, results, strict=True):
                if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                    log.warning("could not delete duplicate %s: %s", item.id, describe(result))

    @staticmethod
    def _classify(result: Any) -> Outcome:
        if isinstance(result, ErrorServerBusy):
            return Outcome("busy", reason=describe(result), back_off=result.back_off)
        if isinstance(result, ErrorItemNotFound):
            return Outcome("not_found", reason=describe(result))
        if isinstance(result, CONFLICTS):
            return Outcome("conflict", reason=describe(result))
        if isinstance(result, Exception):
            if is_transient(result):
                raise result
            return Outcome("rejected", reason=describe(result))
        if isinstance(result, tuple):
            item_id, change_key = result
            return Outcome("ok", item_id=item_id, change_key=change_key)
        return Outcome("ok", item_id=result.id, change_key=result.changekey)
