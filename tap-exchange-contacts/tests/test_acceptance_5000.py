"""Acceptance on a --seed 5000 mailbox: exact scope, request budget, incremental runs (S1, S9).

The first read fetches in full only the contacts in scope (issue 12 item 5).
"""

from __future__ import annotations

import math

import pytest
from exchange_mailbox.ews.contact_reader import FolderSync
from exchangelib import Contact
from sandbox_common.process import running_sandbox

from .conftest import PRIVATE_FOLDERS, account_for, private_contacts, run_tap, tap_config

ADDRESS = "big@example.com"
SELECTED = ["Clients", "Partners"]


@pytest.mark.spec("S1.1", "S1.2", "S9")
@pytest.mark.slow
def test_seed_5000_full_then_unchanged_then_five_edits(record_property) -> None:
    with running_sandbox("ews-sandbox", ["--seed", "5000", "--mailbox", f"{ADDRESS}:pw"]) as ews:
        config = tap_config(ews, ADDRESS, password="pw", categories=SELECTED)
        account = account_for(ews, ADDRESS)
        contacts = private_contacts(account)
        in_scope = {
            c.id for c in contacts if set(c.categories or ()) & set(SELECTED) or c.sell_link
        }
        folders = len(PRIVATE_FOLDERS)

        # 1. Full read: exactly the contacts in scope, and only those fetched in full (GetItem);
        #    the rest is known by id only (SyncFolderItems, 512 per page; FindItem, 1,000).
        fetched: list[str] = []
        fetch = FolderSync._fetch

        def spy(self, ids):
            fetched.extend(i.id for i in ids)
            return fetch(self, ids)

        ews.reset()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(FolderSync, "_fetch", spy)
            first = run_tap(config)
        stats = ews.stats()
        emitted = {r["id"] for r in first.records["contacts"]}
        assert emitted == in_scope
        assert len(first.records["contacts"]) == len(in_scope)  # no duplicates
        assert sorted(fetched) == sorted(in_scope)  # GetItem asked for nothing else
        assert set(stats["touched"]["folders"]) <= PRIVATE_FOLDERS | {"Calendar"}
        reads = stats["reads"]
        assert reads["SyncFolderItems"] <= math.ceil(len(contacts) / 512) + folders
        assert reads["FindItem"] <= math.ceil(len(in_scope) / 1000) + folders
        assert reads["GetItem"] <= math.ceil(len(in_scope) / 100) + folders
        item_requests = reads["SyncFolderItems"] + reads["FindItem"] + reads["GetItem"]
        setup = stats["total_reads"] - item_requests
        assert setup <= 4
        assert stats["total_writes"] == 0
        record_property("full_read", {"contacts": len(contacts), "emitted": len(emitted), **reads})
        print("full read", len(contacts), "contacts,", len(emitted), "emitted, reads", reads)

        # 2. Same state, nothing changed: no records, one SyncFolderItems per folder.
        ews.reset()
        second = run_tap(config, first.state)
        stats = ews.stats()
        assert "contacts" not in second.records
        assert stats["reads"]["SyncFolderItems"] == folders
        assert stats["total_reads"] - setup == folders
        record_property("unchanged_run", stats["reads"])
        print("unchanged run reads", stats["reads"])

        # 3. Five in-scope contacts edited through exchangelib: the next run emits those five.
        edited = [c for c in contacts if c.id in in_scope][:: len(in_scope) // 5][:5]
        fresh = list(account.fetch(ids=edited, only_fields=["job_title"]))
        for contact in fresh:
            assert isinstance(contact, Contact)
            contact.job_title = "Edited by test"
        results = account.bulk_update([(c, ["job_title"]) for c in fresh])
        assert not [r for r in results if isinstance(r, Exception)]
        ews.reset()
        third = run_tap(config, second.state)
        stats = ews.stats()
        assert sorted(r["id"] for r in third.records["contacts"]) == sorted(c.id for c in fresh)
        assert {r["job_title"] for r in third.records["contacts"]} == {"Edited by test"}
        record_property("five_edits", stats["reads"])
        print("five edits reads", stats["reads"])
