"""Batched Graph reads and writes of contacts, one outcome per item (as ``ews.writer``).

Every read and write goes through JSON ``$batch``, 20 per request (SPEC S13.3), and each
sub-request's answer becomes that item's outcome, in ``interface.OutcomeKind``'s vocabulary:

- ``ok`` — written (201/200): the new id and change key;
- ``not_found`` — 404: the contact is gone;
- ``conflict`` — 412 on a stale ``If-Match`` (``ErrorIrresolvableConflict``; 409 too);
- ``rejected`` — any other 4xx: the service refused that item, with its reason (S10.1); also an
  item holding more than Graph's caps (3 e-mail addresses, 2 business phones), before sending;
- ``busy`` — 429/503 for that sub-request, with its ``Retry-After`` as ``back_off``: nothing was
  done for it, the caller resends it after waiting;
- ``uncertain`` — a create whose answer was lost (a dropped connection, a 5xx): it may exist; the
  caller resolves it through the link property before creating again (S7.2).

Reads (``fetch``, ``find_by_links``) resend their own busy sub-requests (``batch.read_all``).
A 401/403 answer is configuration, not data: it raises the S10.3 error (``errors.explain``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from ..interface import ForeignIdError, Outcome
from . import batch
from .batch import SubRequest, SubResponse
from .contact_json import (
    EXPAND,
    LINK_ID,
    SELECT,
    GraphContact,
    cap_problems,
    extended_values,
    graph_id,
    qualified,
)
from .errors import GraphError, explain
from .folders import GraphFolder
from .transport import GraphTransport

log = logging.getLogger(__name__)

FIND_FIELDS = "id,changeKey,parentFolderId,lastModifiedDateTime,categories,displayName"
FIND_ONE_BY_ONE = 2 * batch.MAX_BATCH
"""Up to this many (folder, link) lookups are filtered GETs; more list the linked contacts."""


def describe(answer: SubResponse) -> str:
    error = answer.error()
    return f"{error.code}: {error.message}" if error.message else error.code


def item_path(transport: GraphTransport, item_id: str) -> str:
    return f"{transport.user}/contacts/{quote(item_id, safe='')}"


class GraphWriter:
    """Contact reads and writes of one mailbox, 20 per ``$batch``."""

    def __init__(self, transport: GraphTransport) -> None:
        self.transport = transport

    def _config_error(self, answer: SubResponse, *, write: bool) -> None:
        if answer.status in (401, 403):
            error = explain(
                answer.error(), mailbox=self.transport.settings.primary_smtp_address, write=write
            )
            if error is not None:
                raise error

    # -- reads -------------------------------------------------------------------------------
    def fetch(self, item_ids: Sequence[str]) -> dict[str, GraphContact | Exception]:
        """Current contacts by (qualified) id: the record's fields, the link and fax, the parent
        folder (a contact moved out of the private folders counts as deleted). Gone ones map to
        a 404 ``GraphError``, ids of another protocol to ``ForeignIdError``."""
        out: dict[str, GraphContact | Exception] = {}
        unique: list[str] = []
        for item_id in dict.fromkeys(item_ids):
            try:
                graph_id(item_id)
            except ForeignIdError as exc:
                out[item_id] = exc
            else:
                unique.append(item_id)
        requests_ = [
            SubRequest(
                id=str(n),
                method="GET",
                url=batch.relative_url(
                    item_path(self.transport, graph_id(i)), {"$select": SELECT, "$expand": EXPAND}
                ),
            )
            for n, i in enumerate(unique)
        ]
        answers = batch.read_all(self.transport, requests_)
        for item_id, request in zip(unique, requests_, strict=True):
            answer = answers[request.id]
            if answer.ok:
                out[item_id] = GraphContact.from_json(answer.body or {})
            elif answer.status in (400, 404):
                # 400: an id Graph cannot read (e.g. an EWS id) names no contact here either.
                out[item_id] = answer.error()
            else:
                self._config_error(answer, write=False)
                raise answer.error()
        return out

    def find_by_links(
        self, folders: Sequence[Any], links: Sequence[str]
    ) -> dict[str, list[GraphContact]]:
        """Contacts whose link property holds each value, in ``folders`` (``GraphFolder``s)."""
        found: dict[str, list[GraphContact]] = {}
        wanted = list(dict.fromkeys(links))
        paths = [f.path if isinstance(f, GraphFolder) else str(f) for f in folders]
        if not wanted or not paths:
            return found
        if len(wanted) * len(paths) > FIND_ONE_BY_ONE:
            values = {link.casefold(): link for link in wanted}
            for path in paths:
                for contact in self.transport.items(f"{path}/contacts", _linked_query()):
                    value = extended_values(contact).get(LINK_ID)
                    if value and value.casefold() in values:
                        found.setdefault(values[value.casefold()], []).append(
                            GraphContact.from_json(contact)
                        )
            return found
        requests_: list[tuple[str, SubRequest]] = []
        for link in wanted:
            for path in paths:
                url = batch.relative_url(f"{path}/contacts", _linked_query(link))
                requests_.append((link, SubRequest(id=str(len(requests_)), method="GET", url=url)))
        answers = batch.read_all(self.transport, [r for _, r in requests_])
        for link, request in requests_:
            answer = answers[request.id]
            if not answer.ok:
                self._config_error(answer, write=False)
                raise answer.error()
            for contact in (answer.body or {}).get("value") or ():
                found.setdefault(link, []).append(GraphContact.from_json(contact))
        return found

    # -- writes ------------------------------------------------------------------------------
    def _prevalidate(self, item: GraphContact) -> Outcome | None:
        problems = cap_problems(item.body())
        if problems:
            return Outcome("rejected", reason="; ".join(problems))
        return None

    def create(
        self, folder: Any, items: Sequence[tuple[Hashable, GraphContact]]
    ) -> dict[Hashable, Outcome]:
        """POST each item into ``folder`` (a ``GraphFolder``), 20 per batch."""
        path = folder.path if isinstance(folder, GraphFolder) else str(folder)
        out: dict[Hashable, Outcome] = {}
        ready: list[tuple[Hashable, GraphContact]] = []
        for key, item in items:
            bad = self._prevalidate(item)
            if bad is not None:
                out[key] = bad
            else:
                ready.append((key, item))
        for chunk in batch.chunks(ready):
            requests_ = [
                SubRequest(
                    id=str(n),
                    method="POST",
                    url=batch.relative_url(f"{path}/contacts"),
                    body=item.body(),
                )
                for n, (_, item) in enumerate(chunk)
            ]
            try:
                answers = batch.send(self.transport, requests_, read=False)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                log.warning("$batch of %d creates lost its answer: %s", len(chunk), exc)
                for key, _ in chunk:
                    out[key] = Outcome("uncertain", reason=f"answer lost: {type(exc).__name__}")
                continue
            for (key, item), request in zip(chunk, requests_, strict=True):
                answer = answers[request.id]
                if answer.status >= 500 and not answer.busy:
                    out[key] = Outcome("uncertain", reason=describe(answer))
                    continue
                out[key] = self._classify(answer, write=True)
                if out[key].kind == "ok":
                    item.id, item.change_key = graph_id(out[key].item_id or ""), out[key].change_key
        return out

    def update(
        self, items: Sequence[tuple[Hashable, GraphContact, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        """PATCH each item's changes, guarded by ``If-Match`` on its change key; 20 per batch."""
        out: dict[Hashable, Outcome] = {}
        ready: list[tuple[Hashable, GraphContact]] = []
        for key, item, _fields in items:
            bad = self._prevalidate(item)
            if bad is not None:
                out[key] = bad
            elif not item.body():
                out[key] = Outcome(
                    "ok", item_id=qualified(item.id or ""), change_key=item.change_key
                )
            else:
                ready.append((key, item))
        for chunk in batch.chunks(ready):
            requests_ = [
                SubRequest(
                    id=str(n),
                    method="PATCH",
                    url=batch.relative_url(item_path(self.transport, item.id or "")),
                    body=item.body(),
                    headers={"If-Match": f'W/"{item.change_key}"'} if item.change_key else {},
                )
                for n, (_, item) in enumerate(chunk)
            ]
            # A PATCH sent twice meets its own new change key: 412, re-read, no change.
            answers = batch.send(self.transport, requests_, read=True)
            for (key, item), request in zip(chunk, requests_, strict=True):
                answer = answers[request.id]
                if answer.status >= 500 and not answer.busy:
                    raise answer.error()  # transient: the run fails, no STATE past it (S10.2)
                out[key] = self._classify(answer, write=True)
                if out[key].kind == "ok":
                    item.id, item.change_key = graph_id(out[key].item_id or ""), out[key].change_key
        return out

    def delete_copies(self, items: Sequence[GraphContact]) -> None:
        """Permanently delete extra copies of a contact the sync itself created."""
        requests_ = [
            SubRequest(
                id=str(n),
                method="POST",
                url=batch.relative_url(f"{item_path(self.transport, item.id)}/permanentDelete"),
            )
            for n, item in enumerate(items)
            if item.id is not None
        ]
        for chunk in batch.chunks(requests_):
            answers = batch.send(self.transport, chunk, read=True)
            for request in chunk:
                answer = answers[request.id]
                if not answer.ok and answer.status != 404:
                    log.warning("could not delete a duplicate: %s", describe(answer))

    def _classify(self, answer: SubResponse, *, write: bool) -> Outcome:
        if answer.ok:
            body: Mapping[str, Any] = answer.body or {}
            return Outcome(
                "ok", item_id=qualified(str(body.get("id"))), change_key=body.get("changeKey")
            )
        if answer.busy:
            return Outcome("busy", reason=describe(answer), back_off=answer.retry_after)
        if answer.status == 404:
            return Outcome("not_found", reason=describe(answer))
        if answer.status in (409, 412):
            return Outcome("conflict", reason=describe(answer))
        self._config_error(answer, write=write)
        if 400 <= answer.status < 500:
            return Outcome("rejected", reason=describe(answer))
        raise GraphError.from_answer(answer.status, answer.body, answer.headers)


def _linked_query(link: str | None = None) -> dict[str, str]:
    """Contacts carrying the link property (with ``link``: that value), the fields a found
    contact needs, 1,000 per page."""
    condition = f"ep/value eq '{link.replace(chr(39), chr(39) * 2)}'" if link else "ep/value ne ''"
    return {
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{LINK_ID}' and {condition})",
        "$select": FIND_FIELDS,
        "$expand": f"singleValueExtendedProperties($filter=id eq '{LINK_ID}')",
        "$top": "1000",
    }
