"""``GraphMailbox``: the ``interface.Mailbox`` over Microsoft Graph (requests + msal).

It holds one ``GraphTransport`` (token, TLS, immutable ids, retries, 4 requests at most) and
hands reads and writes to this package's modules unchanged. A Graph answer that means bad
configuration (401, 403, an unknown mailbox) becomes the S10.3 error naming the setting or the
application permission at fault, wherever it comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ..app_tokens import AppTokens, graph_scope
from ..errors import ExchangeSetupError
from ..interface import Category, ContactFolder, ContactScope, MasterCategoryList, Outcome
from ..settings import ExchangeSettings
from . import contact_json, folders, master_categories
from .contact_json import GraphContact
from .contact_reader import GraphFolderSync
from .errors import GraphError, explain, required_permission
from .folders import GraphFolder
from .master_categories import GraphCategoryList
from .transport import GraphTransport
from .writer import GraphWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
CATEGORY_PAGE = 1000


class GraphMailbox:
    """One user's own mailbox over Microsoft Graph, app-only (S13.3)."""

    protocol = "graph"

    def __init__(
        self, settings: ExchangeSettings | Mapping[str, Any], *, tokens: AppTokens | None = None
    ) -> None:
        self.settings = (
            settings
            if isinstance(settings, ExchangeSettings)
            else ExchangeSettings.from_config(settings)
        )
        self.transport = GraphTransport(self.settings, tokens)
        self.writer = GraphWriter(self.transport)
        self._folders: list[ContactFolder] | None = None
        self._writes = False  # the run writes: a refusal names the ReadWrite permissions

    @contextmanager
    def _explained(self, family: str = "contacts", *, write: bool = False) -> Iterator[None]:
        try:
            yield
        except GraphError as exc:
            error = explain(
                exc,
                mailbox=self.settings.primary_smtp_address,
                family=family,
                write=write or self._writes,
            )
            if error is None:
                raise
            raise error from None

    def _call(self, call: Callable[[], T], family: str = "contacts", write: bool = False) -> T:
        with self._explained(family, write=write):
            return call()

    # -- set-up ------------------------------------------------------------------------------
    def check(self, *, write: bool = False) -> None:
        """Before any record: a token, and the application permissions the run needs where the
        token tells (S10.3). A token naming Contacts.Read but not Contacts.ReadWrite (or
        MailboxSettings.Read but not .ReadWrite) fails here for a run that writes. A token
        naming neither permission of a family says nothing: the app may hold it through
        Exchange's RBAC for Applications, which tokens do not carry; then the service's own
        refusal (403) of the first request is explained, naming the permission."""
        self._writes = self._writes or write
        roles = self.transport.tokens.roles(graph_scope(self.settings.graph_url))
        if roles is None:
            return
        for family in ("contacts", "categories"):
            needed = required_permission(family, write)
            enough = {needed} if write else {needed, required_permission(family, True)}
            family_roles = {required_permission(family, False), required_permission(family, True)}
            if family_roles & roles and not enough & roles:
                raise ExchangeSetupError(
                    f"The app lacks the application permission {needed} (its token grants "
                    f"{', '.join(sorted(roles)) or 'none'}): grant {needed} to the app "
                    "registration and give admin consent.",
                    setting="client_id",
                )

    # -- folders and reads -------------------------------------------------------------------
    def private_folders(self, *, known: Collection[str] = ()) -> list[ContactFolder]:
        if self._folders is None:
            self._folders = self._call(lambda: folders.private_folders(self.transport, known))
        return self._folders

    def folder_changes(
        self, folder: ContactFolder, sync_state: str | None, *, scope: ContactScope | None = None
    ) -> GraphFolderSync:
        return _ExplainedSync(self, folder, sync_state, scope=scope)

    def carried_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[str]:
        """Of ``names``, those a contact of ``folders`` carries. Graph filters contacts by no
        category, so this lists the folders' categories (1,000 contacts a page) until every
        name is seen; it runs only for names missing from the master list (S1.2)."""
        wanted = {n.casefold(): n for n in names}
        seen: dict[str, str] = {}
        with self._explained():
            for folder in folders:
                path = f"{self.transport.user}/contactFolders/{folder.id}/contacts"
                params = {"$select": "categories", "$top": str(CATEGORY_PAGE)}
                for contact in self.transport.items(path, params):
                    for category in contact.get("categories") or ():
                        key = str(category).casefold()
                        if key in wanted:
                            seen.setdefault(key, wanted[key])
                    if len(seen) == len(wanted):
                        break
                if len(seen) == len(wanted):
                    break
        return [wanted[k] for k in wanted if k in seen]

    # -- master categories -------------------------------------------------------------------
    def master_categories(self) -> list[Category]:
        return self.load_master_categories().categories()

    def load_master_categories(self) -> GraphCategoryList:
        return self._call(lambda: master_categories.load(self.transport), "categories")

    def new_master_categories(self) -> GraphCategoryList:
        return GraphCategoryList(entries=[])

    def save_master_categories(self, categories: MasterCategoryList, *, exists: bool) -> None:
        if not isinstance(categories, GraphCategoryList):
            msg = f"Graph saves the list it loaded, not a {type(categories).__name__}"
            raise TypeError(msg)
        self._call(
            lambda: master_categories.save(self.transport, categories), "categories", write=True
        )

    def create_folder(self, parent: ContactFolder, name: str) -> ContactFolder:
        folder = self._call(lambda: folders.create_folder(self.transport, parent, name), write=True)
        if self._folders is not None:
            self._folders.append(folder)
        return folder

    def _listed(
        self, folders_in: Sequence[ContactFolder], params: Mapping[str, str]
    ) -> Iterator[dict[str, Any]]:
        with self._explained():
            for folder in folders_in:
                path = f"{self.transport.user}/contactFolders/{folder.id}/contacts"
                yield from self.transport.items(path, {**params, "$top": str(CATEGORY_PAGE)})

    def matching_records(self, folders: Sequence[ContactFolder]) -> Iterator[dict[str, Any]]:
        """Each folder listed 1,000 contacts a page, the matching fields and the link."""
        by_id = {f.id: f for f in folders}
        params = {"$select": contact_json.MATCHING_SELECT, "$expand": contact_json.EXPAND}
        for contact in self._listed(folders, params):
            folder = by_id.get(str(contact.get("parentFolderId")))
            yield contact_json.contact_to_record(
                contact,
                folder_id=folder.id if folder else "",
                folder_path=folder.path if folder else "",
            )

    def find_by_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[GraphContact]:
        """Graph filters contacts by no category: the folders' categories are listed (1,000 a
        page, ids and categories only) and filtered here, case-insensitively as Outlook does."""
        wanted = {n.casefold() for n in names}
        if not wanted:
            return []
        params = {"$select": "id,changeKey,parentFolderId,categories"}
        return [
            GraphContact.from_json(contact)
            for contact in self._listed(folders, params)
            if wanted & {str(c).casefold() for c in contact.get("categories") or ()}
        ]

    # -- items -------------------------------------------------------------------------------
    def new_item(self, folder: ContactFolder | GraphFolder | None = None) -> GraphContact:
        folder_id = folder.id if folder is not None else None
        return GraphContact(folder_id=folder_id)

    def apply_fields(self, item: GraphContact, fields: Mapping[str, Any]) -> list[str]:
        return contact_json.apply_fields(item, fields)

    def item_record(self, item: GraphContact) -> dict[str, Any]:
        return item.record()

    def item_categories(self, item: GraphContact) -> list[str]:
        return list(item.current("categories") or ())

    def set_item_categories(self, item: GraphContact, names: Sequence[str]) -> str:
        return contact_json.apply_fields(item, {"categories": list(names)})[0]

    def item_link(self, item: GraphContact) -> str | None:
        return item.current_extended(contact_json.LINK_ID)

    def set_item_link(self, item: GraphContact, value: str | None) -> str:
        return contact_json.apply_fields(item, {contact_json.SELL_LINK_FIELD: value})[0]

    # -- batched item reads and writes -------------------------------------------------------
    def fetch(self, item_ids: Sequence[str]) -> dict[str, GraphContact | Exception]:
        return self._call(lambda: self.writer.fetch(item_ids))

    def find_by_links(
        self, folders: Sequence[Any], links: Sequence[str]
    ) -> dict[str, list[GraphContact]]:
        return self._call(lambda: self.writer.find_by_links(folders, links))

    def create(
        self, folder: Any, items: Sequence[tuple[Hashable, GraphContact]]
    ) -> dict[Hashable, Outcome]:
        return self._call(lambda: self.writer.create(folder, items), write=True)

    def update(
        self, items: Sequence[tuple[Hashable, GraphContact, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        return self._call(lambda: self.writer.update(items), write=True)

    def delete_copies(self, items: Sequence[GraphContact]) -> None:
        self._call(lambda: self.writer.delete_copies(items), write=True)

    def close(self) -> None:
        self.transport.close()
        self._folders = None


class _ExplainedSync(GraphFolderSync):
    """A folder read whose configuration errors name the setting at fault."""

    def __init__(self, mailbox: GraphMailbox, *args: Any, **kwargs: Any) -> None:
        super().__init__(mailbox.transport, *args, **kwargs)
        self._mailbox = mailbox

    def records(self, **options: Any) -> Iterator[dict[str, Any]]:
        with self._mailbox._explained():
            yield from super().records(**options)
