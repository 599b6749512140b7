"""``EwsMailbox`` is the ``interface.Mailbox`` over EWS, end to end against the EWS sandbox."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from exchange_mailbox.ews import EwsMailbox
from exchange_mailbox.interface import Mailbox
from exchangelib import Contact
from sandbox_common.process import SandboxProcess, running_sandbox

pytestmark = pytest.mark.subprocess

ADDRESS = "mailbox@example.com"
PASSWORD = "pw-mailbox"


@pytest.fixture(scope="module")
def ews() -> Iterator[SandboxProcess]:
    with running_sandbox(
        "ews-sandbox", ["--seed", "12", "--mailbox", f"{ADDRESS}:{PASSWORD}"]
    ) as s:
        yield s


@pytest.fixture
def mailbox(ews: SandboxProcess) -> Iterator[EwsMailbox]:
    box = EwsMailbox(
        {
            "primary_smtp_address": ADDRESS,
            "password": PASSWORD,
            "service_endpoint": f"{ews.base_url}/EWS/Exchange.asmx",
            "server_version": "15.1.2507.6",
        }
    )
    yield box
    box.close()


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


@pytest.mark.spec("S13.1")
def test_ews_mailbox_implements_every_method_of_the_interface(mailbox: EwsMailbox) -> None:
    assert isinstance(mailbox, Mailbox)
    for name in _public(Mailbox):
        ours, theirs = getattr(EwsMailbox, name), getattr(Mailbox, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        ), name


@pytest.mark.spec("S1.1")
def test_folders_reads_categories_and_a_batched_write(
    mailbox: EwsMailbox, ews: SandboxProcess
) -> None:
    folders = mailbox.private_folders()
    assert folders[0].path == "Contacts"
    assert all(f.path.startswith("Contacts") for f in folders)

    changes = mailbox.folder_changes(folders[0], None)
    first = list(changes.records())
    state = changes.sync_state
    assert first
    assert state
    again = mailbox.folder_changes(folders[0], state)
    assert list(again.records()) == []  # nothing changed since the state

    assert isinstance(mailbox.master_categories(), list)

    outcomes = mailbox.create(
        folders[0].folder,
        [("a", Contact(given_name="Ada", surname="Lovelace", display_name="Ada Lovelace"))],
    )
    assert outcomes["a"].kind == "ok"
    assert outcomes["a"].item_id
    later = mailbox.folder_changes(folders[0], state)
    assert [r["given_name"] for r in later.records()] == ["Ada"]
