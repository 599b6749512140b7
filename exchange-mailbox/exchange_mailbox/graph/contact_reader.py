"""One contact folder's changes over Graph: contacts ``delta`` per folder, as records.

The folder's delta link is its ``sync_state`` (kept in Singer state by the tap); without one the
first round lists every contact. Delta answers ``$select`` (the record's fields) but not
``$expand`` (reference §2: documented for messages only, and it has failed for extended
properties), so the two properties Graph only shows as extended properties, the Sell link and
the business fax, are read apart:

- a round with few contacts (``FEW``): one batched GET per 20 of them, after the round;
- a longer round (a first read of a large folder): the folder's contacts that carry each
  property, listed with a ``$filter`` on it (1,000 per page) once the round passes ``FEW``, and
  once more after the round; a contact whose property changed in between is fetched again and
  its record sent again, so no record keeps a link older than its data (S13.2).

A quiet folder costs one delta call. A delta token the service no longer knows (410
``SyncStateNotFound``, ``resyncRequired``) starts a full read of that folder: every contact
comes again, nothing is lost (records are idempotent for the targets). Deletions, and contacts
moved out of the folder, come as ``@removed`` and are emitted as deletion records.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from ..contact_records import deletion_record
from ..interface import ContactFolder, ContactScope, FolderSyncStats
from . import batch
from .batch import SubRequest
from .contact_json import (
    EXPAND,
    EXTENDED_IDS,
    SELECT,
    contact_to_record,
    extended_values,
    qualified,
)
from .errors import GraphError
from .transport import GraphTransport

log = logging.getLogger(__name__)

PAGE_SIZE = 200
"""Delta page size asked for (``Prefer: odata.maxpagesize``, re-sent on every call)."""
FEW = 100
"""At most this many changes are resolved by batched GETs; more, by the filtered listings."""
LIST_PAGE = 1000


def is_delta_link(sync_state: str | None, transport: GraphTransport) -> bool:
    """A delta link of this Graph service (an EWS SyncState or anything else is not)."""
    return bool(sync_state) and str(sync_state).startswith(transport.root + "/")


class GraphFolderSync:
    """Changes of one folder since ``sync_state``; read ``sync_state`` again after ``records()``."""

    def __init__(
        self,
        transport: GraphTransport,
        folder: ContactFolder,
        sync_state: str | None,
        *,
        scope: ContactScope | None = None,
    ) -> None:
        self.transport = transport
        self.folder = folder
        self.sync_state = sync_state
        self.scope = scope  # a full Graph read gets every contact's fields anyway
        self.stats = FolderSyncStats()

    @property
    def folder_path(self) -> str:
        return f"{self.transport.user}/contactFolders/{self.folder.id}"

    def records(
        self, *, modified_since: dt.datetime | None = None, now: dt.datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Contact records and deletion records; the new state is set once this is exhausted."""
        deleted_at = now or dt.datetime.now(dt.UTC)
        state = self.sync_state if is_delta_link(self.sync_state, self.transport) else None
        if self.sync_state and state is None:
            log.info("%s: no Graph delta link in the state; reading it in full", self.folder.path)
        try:
            yield from self._round(state, modified_since, deleted_at)
        except GraphError as exc:
            if state is None or not exc.delta_expired:
                raise
            log.warning(
                "%s: Graph no longer knows the delta token (%s); reading the folder in full",
                self.folder.path,
                exc.code,
            )
            self.stats.restarted = True
            yield from self._round(None, modified_since, deleted_at)

    # -- one delta round -----------------------------------------------------------------------
    def _pages(self, state: str | None) -> Iterator[dict[str, Any]]:
        headers = {"Prefer": f'IdType="ImmutableId", odata.maxpagesize={PAGE_SIZE}'}
        if state is None:
            page = self.transport.call(
                "GET",
                f"{self.folder_path}/contacts/delta",
                params={"$select": SELECT},
                headers=headers,
            )
        else:
            page = self.transport.call("GET", state, headers=headers)
        while True:
            yield page
            link = page.get("@odata.nextLink")
            if not link:
                return
            page = self.transport.call("GET", link, headers=headers)

    def _round(
        self, state: str | None, since: dt.datetime | None, deleted_at: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        buffered: list[dict[str, Any]] = []
        extended: dict[str, dict[str, str]] | None = None  # filtered listings, once streaming
        sent: set[str] = set()  # ids emitted in streaming mode, for the second listing
        delta_link: str | None = None
        for page in self._pages(state):
            for entry in page.get("value") or ():
                if "@removed" in entry:
                    self.stats.deleted += 1
                    # Kept in order with the contacts: a later re-add must win over it.
                    buffered.append(entry)
                    continue
                if str(entry.get("@odata.type", "#microsoft.graph.contact")) != (
                    "#microsoft.graph.contact"
                ):
                    self.stats.other_items += 1
                    continue
                self.stats.created_or_updated += 1
                modified = entry.get("lastModifiedDateTime")
                if since is not None and modified and _parse(modified) < since:
                    self.stats.older_than_start += 1
                    continue
                buffered.append(entry)
            if extended is None and len(buffered) > FEW:
                extended = self._listed_extended()
            if extended is not None:
                yield from self._emit(buffered, extended, deleted_at, sent)
                buffered = []
            delta_link = page.get("@odata.deltaLink") or delta_link
        if extended is None:
            fetched = self._fetched_extended([e["id"] for e in buffered if "@removed" not in e])
            yield from self._emit(buffered, fetched, deleted_at, sent)
        elif sent:
            yield from self._refresh_changed(extended, sent)
        if delta_link:
            self.sync_state = delta_link

    def _emit(
        self,
        entries: list[dict[str, Any]],
        extended: Mapping[str, Mapping[str, str]],
        deleted_at: dt.datetime,
        sent: set[str],
    ) -> Iterator[dict[str, Any]]:
        for entry in entries:
            if "@removed" in entry:
                sent.discard(entry["id"])
                yield deletion_record(
                    qualified(entry["id"]), folder_id=self.folder.id, deleted_at=deleted_at
                )
                continue
            contact = _with_extended(entry, extended.get(entry["id"], {}))
            sent.add(entry["id"])
            self.stats.fetched += 1
            yield contact_to_record(contact, folder_id=self.folder.id, folder_path=self.folder.path)

    # -- the extended properties -----------------------------------------------------------------
    def _listed_extended(self) -> dict[str, dict[str, str]]:
        """id → {property id: value} for the folder's contacts carrying our extended properties:
        one filtered listing per property (contacts without it are not listed)."""
        out: dict[str, dict[str, str]] = {}
        for prop_id in EXTENDED_IDS:
            params = {
                "$filter": "singleValueExtendedProperties/Any(ep: ep/id eq "
                f"'{prop_id}' and ep/value ne '')",
                "$select": "id",
                "$expand": f"singleValueExtendedProperties($filter=id eq '{prop_id}')",
                "$top": str(LIST_PAGE),
            }
            for contact in self.transport.items(f"{self.folder_path}/contacts", params):
                out.setdefault(contact["id"], {}).update(extended_values(contact))
        return out

    def _fetched_extended(self, ids: list[str]) -> dict[str, dict[str, str]]:
        """id → extended values for a few contacts, by batched GETs (a gone one: nothing)."""
        unique = list(dict.fromkeys(ids))
        requests = [
            SubRequest(
                id=str(n),
                method="GET",
                url=batch.relative_url(
                    f"{self.transport.user}/contacts/{quote(i, safe='')}",
                    {"$select": "id", "$expand": EXPAND},
                ),
            )
            for n, i in enumerate(unique)
        ]
        answers = batch.read_all(self.transport, requests)
        out: dict[str, dict[str, str]] = {}
        for contact_id, request in zip(unique, requests, strict=True):
            answer = answers[request.id]
            if answer.ok:
                out[contact_id] = extended_values(answer.body or {})
            elif answer.status != 404:
                raise answer.error()
        return out

    def _refresh_changed(
        self, before: Mapping[str, Mapping[str, str]], sent: set[str]
    ) -> Iterator[dict[str, Any]]:
        """Records sent with extended values that changed during the round, sent again."""
        after = self._listed_extended()
        changed = [i for i in sent if dict(before.get(i, {})) != dict(after.get(i, {}))]
        if not changed:
            return
        log.info("%s: %d contacts changed while read; read again", self.folder.path, len(changed))
        requests = [
            SubRequest(
                id=str(n),
                method="GET",
                url=batch.relative_url(
                    f"{self.transport.user}/contacts/{quote(i, safe='')}",
                    {"$select": SELECT, "$expand": EXPAND},
                ),
            )
            for n, i in enumerate(changed)
        ]
        answers = batch.read_all(self.transport, requests)
        for request in requests:
            answer = answers[request.id]
            if answer.status == 404:
                continue  # deleted since: the next delta round reports it
            if not answer.ok:
                raise answer.error()
            contact = answer.body or {}
            if contact.get("parentFolderId") not in (None, self.folder.id):
                continue  # moved out since: the next round reports it
            yield contact_to_record(contact, folder_id=self.folder.id, folder_path=self.folder.path)


def _with_extended(entry: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    contact = dict(entry)
    contact["singleValueExtendedProperties"] = [{"id": k, "value": v} for k, v in values.items()]
    return contact


def _parse(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
