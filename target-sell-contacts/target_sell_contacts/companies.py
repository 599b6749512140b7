"""Sell organisations by name (SPEC S8 "company"): looked up, created when missing, cached per run.

A person's company in Sell is the organisation in ``contact_id``. Names compare trimmed and
case-insensitively (as the list filter does); when several organisations share a name the oldest
wins, so every run picks the same one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contact_mapping.normalize import normalize_text

from target_sell_contacts.sell_client import AmbiguousWriteError, SellClient, TransientError

LOGGER = logging.getLogger("target_sell_contacts.companies")


def company_key(name: str | None) -> str | None:
    text = normalize_text(name)
    return " ".join(text.split()).casefold() if text else None


class Companies:
    """Name ⇄ id of the account's organisations, shared by the sink threads."""

    def __init__(
        self,
        client: SellClient,
        *,
        create: bool,
        remember: Callable[[Mapping[int, str]], None] | None = None,
    ) -> None:
        self._client = client
        self._remember = remember
        self._create = create
        self._ids: dict[str, int | None] = {}
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self.created = 0
        #: True once ``seed`` saw every organisation of the account (the run's full index):
        #: a name not known then needs no look-up, only a create.
        self.complete = False

    def seed(self, organisations: Iterable[Mapping[str, Any]], *, complete: bool = False) -> None:
        """Learn organisations already read (the run's contact index), oldest id first."""
        orgs = sorted(organisations, key=lambda o: int(o["id"]))
        with self._lock:
            for org in orgs:
                self._learn(org)
            self.complete = self.complete or complete
        self._share({int(o["id"]): o.get("name") or "" for o in orgs})

    def _share(self, names: Mapping[int, str]) -> None:
        """Tell the ledger, so target-exchange can name companies without asking Sell."""
        if self._remember is not None and names:
            self._remember({i: n for i, n in names.items() if n})

    def _learn(self, org: Mapping[str, Any]) -> None:
        ident = int(org["id"])
        name = org.get("name") or ""
        self._names[ident] = name
        key = company_key(name)
        if key and self._ids.get(key) is None:
            self._ids[key] = ident

    def names(self, ids: Iterable[int | None]) -> dict[int, str]:
        """Names of the given organisation ids (unknown ones fetched in one request per 100)."""
        wanted = {int(i) for i in ids if i is not None}
        with self._lock:
            missing = [i for i in wanted if i not in self._names]
        if missing:
            found = self._client.by_ids("contacts", missing)
            orgs = [o for o in found.values() if o.get("is_organization")]
            with self._lock:
                for org in orgs:
                    self._learn(org)
            self._share({int(o["id"]): o.get("name") or "" for o in orgs})
        with self._lock:
            return {i: self._names[i] for i in wanted if i in self._names}

    @property
    def can_create(self) -> bool:
        return self._create

    def known(self, name: str | None) -> int | None:
        """The organisation id for ``name`` if it exists (looked up, never created: S14)."""
        key = company_key(name)
        if key is None:
            return None
        with self._lock:
            if self._ids.get(key) is not None:
                return self._ids[key]
        found = None if self.complete else self._lookup(name or "")
        return int(found["id"]) if found is not None else None

    def resolve(self, name: str | None) -> int | None:
        """The organisation id for ``name``; created when missing and allowed; None if blank."""
        key = company_key(name)
        if key is None:
            return None
        with self._lock:
            if key in self._ids and self._ids[key] is not None:
                return self._ids[key]
            name_lock = self._name_locks.setdefault(key, threading.Lock())
        with name_lock:
            with self._lock:
                if self._ids.get(key) is not None:
                    return self._ids[key]
            found = None if self.complete else self._lookup(name or "")
            if found is None and self._create:
                found = self._create_org(normalize_text(name) or "")
            if found is None:
                return None
            with self._lock:
                self._learn(found)
            self._share({int(found["id"]): found.get("name") or ""})
            return int(found["id"])

    def _lookup(self, name: str) -> dict[str, Any] | None:
        page = self._client.page(
            "contacts",
            {"is_organization": "true", "name": normalize_text(name), "sort_by": "id"},
        )
        key = company_key(name)
        hits = [o for o in page.items if company_key(o.get("name")) == key]
        return hits[0] if hits else None

    def _create_org(self, name: str) -> dict[str, Any] | None:
        for _attempt in range(3):
            try:
                org = self._client.create("contacts", {"is_organization": True, "name": name})
            except AmbiguousWriteError:
                # The organisation may exist now: look before trying again (no duplicates).
                found = self._lookup(name)
                if found is not None:
                    return found
                continue
            self.created += 1
            LOGGER.info("created Sell organisation %s (id %s)", name, org["id"])
            return org
        found = self._lookup(name)
        if found is None:
            msg = f"creating the Sell organisation {name!r} kept failing"
            raise TransientError(msg)
        return found
