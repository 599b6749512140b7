"""Contacts delta per folder and Graph ids, driven by msgraph-sdk with exchangelib on one store.

SPEC S9 (incremental runs), S13.2 (immutable ids survive moves; default ids do not).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from exchangelib import Contact
from graph_sandbox.testing import (
    CLIENT_ID,
    SECRET,
    TENANT,
    app_token,
    graph_client,
    http_session,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.contact_folders.item.contacts.delta.delta_request_builder import (
    DeltaRequestBuilder,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.subprocess,
]
USER, PASSWORD = "demo@example.com", "demo-password"
IMMUTABLE = 'IdType="ImmutableId"'
ARGS = ["--tls", "--seed", "60", "--mailbox", f"{USER}:{PASSWORD}",
        "--app", f"{TENANT}:{CLIENT_ID}:{SECRET}"]  # fmt: skip


def run(coro):
    return asyncio.run(coro)


def _config(page_size: int | None = None, prefer_immutable: bool = False, select=None):
    config = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=select)
    )
    prefer = []
    if page_size:
        prefer.append(f"odata.maxpagesize={page_size}")
    if prefer_immutable:
        prefer.append(IMMUTABLE)
    if prefer:
        config.headers.add("Prefer", ", ".join(prefer))
    return config


async def _round(client, folder_id: str, link: str | None, **kwargs) -> tuple[list, str, int]:
    """One delta round: every item, the deltaLink, and how many pages it took."""
    builder = (
        client.users.by_user_id(USER).contact_folders.by_contact_folder_id(folder_id).contacts.delta
    )
    config = _config(**kwargs)
    page = await (builder.with_url(link) if link else builder).get(request_configuration=config)
    items, pages = list(page.value or []), 1
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get(request_configuration=config)
        items.extend(page.value or [])
        pages += 1
    return items, page.odata_delta_link, pages


def _folder_id(sandbox, name: str) -> str:
    token = app_token(sandbox)
    folders = http_session(sandbox).get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contactFolders",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return next(f["id"] for f in folders.json()["value"] if f["displayName"] == name)


@pytest.mark.spec("S9")
def test_delta_rounds_follow_ews_edits_moves_and_deletions(sandbox, ews):
    clients = _folder_id(sandbox, "Clients")
    ews_clients = next(f for f in ews.contacts.children if f.name == "Clients")
    in_folder = [c for c in ews_clients.all() if isinstance(c, Contact)]

    async def first_round():
        client = graph_client(sandbox)
        return await _round(client, clients, None, page_size=4, select=["givenName", "surname"])

    items, delta_link, pages = run(first_round())
    assert len(items) == len(in_folder) > 4
    assert pages == -(-len(in_folder) // 4)
    assert all(i.given_name and i.company_name is None for i in items), "$select kept in links"

    marker = uuid.uuid4().hex[:8]
    edited, moved, deleted = in_folder[0], in_folder[1], in_folder[2]
    edited.given_name = f"Edited-{marker}"
    edited.save(update_fields=["given_name"])
    moved.move_to_trash()  # DeleteItem MoveToDeletedItems: a move to Deleted Items
    deleted.delete()
    Contact(folder=ews_clients, display_name=f"New {marker}", given_name="New",
            surname=marker).save()  # fmt: skip

    async def second_round():
        client = graph_client(sandbox)
        return await _round(client, clients, delta_link)

    changes, _, _ = run(second_round())
    removed = [c for c in changes if "@removed" in (c.additional_data or {})]
    present = {c.given_name for c in changes if c not in removed}
    assert present == {f"Edited-{marker}", "New"}
    assert len(removed) == 2
    assert all(c.additional_data["@removed"] == {"reason": "deleted"} for c in removed)


def test_expired_delta_token_is_410_sync_state_not_found(sandbox):
    folder = _folder_id(sandbox, "Partners")

    async def rounds():
        client = graph_client(sandbox)
        _, link, _ = await _round(client, folder, None)
        http_session(sandbox).post(f"{sandbox.base_url}/_sandbox/graph/expire-delta-tokens")
        await _round(client, folder, link)

    with pytest.raises(ODataError) as raised:
        run(rounds())
    assert raised.value.response_status_code == 410
    assert raised.value.error.code == "SyncStateNotFound"
    token = app_token(sandbox)
    garbled = http_session(sandbox).get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contactFolders/{folder}/contacts/delta",
        params={"$deltatoken": "bm90LWEtdG9rZW4"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert garbled.status_code == 410


def test_default_folder_by_well_known_name_and_page_size(sandbox):
    token = app_token(sandbox)
    session = http_session(sandbox)
    url = f"{sandbox.base_url}/v1.0/users/{USER}/contactFolders/contacts/contacts/delta()"
    headers = {"Authorization": f"Bearer {token}"}
    default_page = session.get(url, headers=headers, timeout=10).json()
    assert len(default_page["value"]) == 10
    assert "@odata.nextLink" in default_page
    big = session.get(
        url, headers={**headers, "Prefer": "odata.maxpagesize=1000"}, timeout=10
    )  # capped at --delta-page-max (200)
    assert big.headers["Preference-Applied"] == "odata.maxpagesize=200"


@pytest.mark.spec("S13.2")
def test_immutable_ids_survive_a_move_default_ids_do_not(sandbox, ews):
    marker = uuid.uuid4().hex[:8]

    async def create():
        client = graph_client(sandbox)
        return await client.users.by_user_id(USER).contacts.post(
            GraphContact(given_name="Moving", surname=marker)
        )

    created = run(create())
    token = app_token(sandbox)
    session = http_session(sandbox)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{sandbox.base_url}/v1.0/users/{USER}/contacts"
    immutable = session.get(
        f"{base}/{created.id}", headers={**headers, "Prefer": IMMUTABLE}, timeout=10
    ).json()["id"]
    assert immutable != created.id
    ews.contacts.get(surname=marker).move_to_trash()  # a move, to Deleted Items
    assert session.get(f"{base}/{created.id}", headers=headers, timeout=10).status_code == 404
    after = session.get(f"{base}/{immutable}", headers={**headers, "Prefer": IMMUTABLE}, timeout=10)
    assert after.status_code == 200
    assert after.json()["id"] == immutable
    assert after.json()["parentFolderId"] != created.parent_folder_id
    by_default_id = session.get(f"{base}/{after.json()['id']}", headers=headers, timeout=10)
    assert by_default_id.json()["id"] not in (created.id, immutable), "a new default id"
