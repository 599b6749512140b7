"""Links made over one Exchange protocol, re-found over the other (SPEC S13.2).

A tenant switched from EWS to Microsoft Graph (or back) reaches its contacts under other ids
(``contact_mapping.exchange_ids``), and an app cannot translate them. Its links must survive the
switch: none retired, no contact re-created on either side, and a first run with no edits writes
nothing. A link keeps its snapshot; only its Exchange id is replaced, once its contact is
re-found:

- Exchange → Sell, a record whose id the ledger does not know: the link of the other protocol
  whose last seen change key is the record's (the same contact, unchanged since: a copy gets a
  change key of its own), else the link its Sell-link property names (the record's ``hint``),
  else, while matching (S4), a Sell record whose link is of the other protocol;
- Sell → Exchange, a link whose Exchange id is of the other protocol: the contact carrying the
  record's Sell link (the destination's ``find_created``), else the one S4 matches. Such an id
  is never fetched and never retired for not being found: a link not re-found yet waits for the
  other direction, which reads every contact once after the switch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from contact_mapping.exchange_ids import exchange_protocol
from contact_mapping.ledger import Ledger, Link, LinkConflictError, StaleLinkError


@dataclass
class _Pending:
    """One protocol's links of the other protocol, by id, change key and Sell ref."""

    links: dict[int, Link]
    by_key: dict[str, int]
    by_ref: dict[str, int]

    @classmethod
    def of(cls, links: list[Link]) -> _Pending:
        return cls(
            {link.id: link for link in links},
            {k.snapshot.exchange_change_key: k.id for k in links if k.snapshot.exchange_change_key},
            {link.sell_ref: link.id for link in links},
        )

    def get(self, link_id: int | None) -> Link | None:
        return self.links.get(link_id) if link_id is not None else None


@dataclass
class Relinker:
    """The active links of the other protocol, read from the ledger once per run (and only
    when a record or a link of another protocol shows up)."""

    ledger: Ledger
    logger: logging.Logger
    dry_run: bool = False
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def _of(self, protocol: str) -> _Pending:
        if protocol not in self._pending:
            found = self.ledger.links_of_other_protocol(protocol)
            self._pending[protocol] = _Pending.of(found)
            if found:
                self.logger.info(
                    "%d links were made over the other Exchange protocol than %s: re-finding "
                    "their contacts (S13.2)",
                    len(found),
                    protocol,
                )
        return self._pending[protocol]

    def any(self, protocol: str) -> bool:
        return bool(self._of(protocol).links)

    def by_change_key(self, protocol: str, change_key: str | None) -> Link | None:
        pending = self._of(protocol)
        return pending.get(pending.by_key.get(change_key)) if change_key else None

    def by_sell_ref(self, protocol: str, ref: str | None) -> Link | None:
        pending = self._of(protocol)
        return pending.get(pending.by_ref.get(ref)) if ref else None

    def rekey(self, link: Link, exchange_id: str, why: str) -> Link | None:
        """The link, its Exchange id replaced; None when another run moved or took it."""
        pending = self._of(exchange_protocol(exchange_id))
        if self.dry_run:
            pending.links.pop(link.id, None)
            return link
        try:
            moved = self.ledger.rekey_exchange(link.id, exchange_id, link.version)
        except StaleLinkError:
            fresh = self.ledger.get_link(link.id)
            if (
                fresh is None
                or not fresh.active
                or exchange_protocol(fresh.exchange_id) == exchange_protocol(exchange_id)
            ):
                pending.links.pop(link.id, None)
                return None
            return self.rekey(fresh, exchange_id, why)
        except LinkConflictError:
            self.logger.warning(
                "Exchange item %s is linked already; link %s (%s) left as it is",
                exchange_id,
                link.id,
                link.sell_ref,
            )
            return None
        pending.links.pop(link.id, None)
        self.logger.info(
            "%s: Exchange contact %s re-found as %s (%s)",
            link.sell_ref,
            link.exchange_id,
            exchange_id,
            why,
        )
        return moved
