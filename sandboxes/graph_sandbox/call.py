"""What one Graph request knows: who calls, which mailbox, the query, and how ids resolve.

A batch's sub-requests are calls too, so everything below works without aiohttp's request.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ews_sandbox.ids import FOLDER, ITEM, encode_id
from ews_sandbox.store import PR_ATTR_HIDDEN, ExtKey, Folder, Item, Mailbox

from graph_sandbox import ids
from graph_sandbox.errors import (
    GraphError,
    access_denied,
    bad_request,
    id_malformed,
    invalid_token,
    invalid_user,
    item_not_found,
    policy_denied,
)
from graph_sandbox.identity import GRAPH_AUDIENCE, App, IdentityPlatform, TokenRejectedError
from graph_sandbox.identity import object_id as make_object_id
from graph_sandbox.routing import CONTACTS, SETTINGS, Route
from graph_sandbox.throttling import Throttle

HIDDEN_KEY = ExtKey(None, None, None, PR_ATTR_HIDDEN, "Boolean")
_PREFER_IMMUTABLE = re.compile(r'IdType\s*=\s*"?ImmutableId"?', re.IGNORECASE)
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class GraphState:
    """Graph's share of the sandbox: the EWS store's mailboxes plus apps, throttles, delta."""

    mailboxes: dict[str, Mailbox]  # the EWS sandbox's, by lower-case address
    delegated: dict[str, Mailbox]  # --oauth-token tokens (act as their mailbox)
    identity: IdentityPlatform
    throttle: Throttle
    delta_page_max: int = 200
    record_dir: Path | None = None
    generations: dict[str, int] = field(default_factory=dict)  # delta token generation per mailbox
    users: dict[str, Mailbox] = field(default_factory=dict)  # by user object id

    def __post_init__(self) -> None:
        self.users = {make_object_id("user", a): m for a, m in self.mailboxes.items()}

    def generation(self, mailbox: Mailbox) -> int:
        return self.generations.get(mailbox.address.lower(), 1)

    def expire_delta_tokens(self, address: str | None = None) -> None:
        """Every delta/skip token issued so far (for one mailbox or all) stops working."""
        for mailbox in self.mailboxes.values():
            if address is None or mailbox.address.lower() == address.lower():
                key = mailbox.address.lower()
                self.generations[key] = self.generation(mailbox) + 1


@dataclass(frozen=True)
class Principal:
    """An app-only caller (``app``) or a delegated one (``--oauth-token``: ``user``)."""

    app: App | None
    roles: frozenset[str]
    user: Mailbox | None = None

    @property
    def key(self) -> str:
        """Throttling is per app and mailbox (reference §7)."""
        return f"app:{self.app.client_id.lower()}" if self.app else f"user:{self.user.address}"  # type: ignore[union-attr]

    def check_permission(self, family: str, write: bool) -> None:
        if self.app is None or family not in (CONTACTS, SETTINGS):
            return
        wanted = {f"{family}.ReadWrite"} if write else {f"{family}.Read", f"{family}.ReadWrite"}
        if not wanted & self.roles:
            raise access_denied()


def authenticate(state: GraphState, header: str | None) -> Principal:
    """The caller an ``Authorization`` header proves; else 401 InvalidAuthenticationToken."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_token("Access token is empty.")
    for known, mailbox in state.delegated.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return Principal(None, frozenset(), mailbox)
    try:
        app, roles = state.identity.verify(token, GRAPH_AUDIENCE)
    except TokenRejectedError as exc:
        raise invalid_token(str(exc)) from exc
    return Principal(app, frozenset(roles))


def resolve_mailbox(state: GraphState, principal: Principal, route: Route) -> Mailbox:
    if route.user is None:
        if principal.user is None:
            raise bad_request("/me request is only valid with delegated authentication flow.")
        return principal.user
    mailbox = state.mailboxes.get(route.user.lower()) or state.users.get(route.user.lower())
    if mailbox is None:
        raise invalid_user(route.user)
    if principal.user is not None and principal.user is not mailbox:
        raise access_denied()
    if principal.app is not None and not principal.app.may_reach(mailbox.address):
        raise policy_denied()
    return mailbox


@dataclass
class GraphCall:
    state: GraphState
    principal: Principal
    mailbox: Mailbox
    method: str
    route: Route
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive (CIMultiDict or lower-cased keys)
    body: Any
    base_url: str  # scheme://host:port

    # -- request preferences -----------------------------------------------------------------
    @property
    def immutable(self) -> bool:
        return bool(_PREFER_IMMUTABLE.search(self.header("Prefer")))

    def max_page_size(self) -> int | None:
        match = _MAXPAGESIZE.search(self.header("Prefer"))
        return int(match.group(1)) if match else None

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            value = self.headers.get(name.lower())
        return value or ""

    def link(self, path: str) -> str:
        """An absolute link to ``path`` under this user (``@odata.nextLink`` and friends)."""
        return f"{self.base_url}/v1.0/{self.route.user_segment}/{path}"

    # -- ids -------------------------------------------------------------------------------------
    def contact_id(self, item: Item) -> str:
        if self.immutable:
            return ids.immutable_item_id(self.mailbox.tag, item.serial)
        return ids.rest_item_id(self.mailbox.tag, item.serial, item.folder.serial)

    def folder_id(self, folder: Folder) -> str:
        return ids.folder_id(self.mailbox.tag, folder.serial)

    # -- folders ---------------------------------------------------------------------------------
    @property
    def default_folder(self) -> Folder:
        return self.mailbox.distinguished["contacts"]

    def is_contact_folder(self, folder: Folder) -> bool:
        """The default Contacts folder and the contacts folders below it (not public ones)."""
        node: Folder | None = folder
        while node is not None:
            if node is self.default_folder:
                return folder.element == "ContactsFolder" or folder is self.default_folder
            node = node.parent
        return False

    def visible_children(self, folder: Folder) -> list[Folder]:
        """Child contact folders a listing shows: hidden system folders are left out."""
        return [
            c
            for c in folder.children
            if self.is_contact_folder(c) and str(c.ext.get(HIDDEN_KEY, "false")).lower() != "true"
        ]

    def resolve_folder(self, text: str) -> Folder:
        if text.lower() == "contacts":  # well-known name of the default folder (UNVERIFIED, §1)
            return self.default_folder
        decoded = ids.decode_folder_id(text)
        if decoded is None:
            raise id_malformed()
        if decoded.tag != self.mailbox.tag:
            raise _foreign_id()
        folder = self.mailbox.folders.get(encode_id(decoded.tag, FOLDER, decoded.serial))
        if folder is None or not self.is_contact_folder(folder):
            raise item_not_found()
        return folder

    def route_folder(self) -> Folder | None:
        """The folder a path's ``contactFolders/{id}/childFolders/{id}…`` chain ends at."""
        folder = None
        for text in self.route.folders:
            child = self.resolve_folder(text)
            if folder is not None and child.parent is not folder:
                raise item_not_found()
            folder = child
        return folder

    # -- contacts --------------------------------------------------------------------------------
    def resolve_contact(self, text: str, folder: Folder | None) -> Item:
        decoded = ids.decode_item_id(text)
        if decoded is None:
            raise id_malformed()
        if decoded.tag != self.mailbox.tag:
            raise _foreign_id()
        item = self.mailbox.items.get(encode_id(decoded.tag, ITEM, decoded.serial))
        if item is None or item.kind != "Contact":
            raise item_not_found()
        if decoded.folder_serial is not None and decoded.folder_serial != item.folder.serial:
            raise item_not_found()  # a default id stops working once the contact moved
        if folder is not None and item.folder is not folder:
            raise item_not_found()
        return item


def _foreign_id() -> GraphError:
    """UNVERIFIED code for an id of another mailbox."""
    return GraphError(
        400, "ErrorInvalidMailboxItemId", "Item Id doesn't belong to the current mailbox."
    )
