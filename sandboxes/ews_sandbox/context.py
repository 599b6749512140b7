"""What one request knows: the authenticated mailbox, the server, and how to resolve ids."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ews_sandbox.errors import EwsError, access_denied, folder_not_found, id_malformed
from ews_sandbox.errors import item_not_found as _item_not_found
from ews_sandbox.ids import FOLDER, ITEM, decode_id
from ews_sandbox.state import SandboxState
from ews_sandbox.store import Folder, Item, Mailbox
from ews_sandbox.xml import child_text, local, t


@dataclass
class Context:
    state: SandboxState
    mailbox: Mailbox

    # -- stats ------------------------------------------------------------------------------
    def touch(self, folder: Folder, *, metadata: bool = False) -> None:
        """Count a folder whose items (or, with ``metadata``, whose properties) were used."""
        category = "folder_metadata" if metadata else "folders"
        self.state.stats.record_touch(category, folder.path)
        self.state.stats.record_touch(f"{category}:{self.mailbox.address}", folder.path)

    # -- mailboxes ----------------------------------------------------------------------------
    def check_mailbox(self, address: str | None) -> None:
        """Only the authenticated mailbox is reachable; others are denied, unknown ones absent."""
        if not address or address.lower() == self.mailbox.address.lower():
            return
        if address.lower() in self.state.mailboxes:
            raise access_denied()
        raise EwsError(
            "ErrorNonExistentMailbox",
            f"The SMTP address {address} has no mailbox associated with it.",
        )

    def _check_tag(self, tag: bytes, not_found: EwsError) -> None:
        if tag != self.mailbox.tag:
            if tag in self.state.tags:
                raise access_denied()
            raise not_found

    # -- folders ---------------------------------------------------------------------------------
    def resolve_folder(self, el: etree._Element) -> Folder:
        kind = local(el)
        if kind == "DistinguishedFolderId":
            mailbox = el.find(t("Mailbox"))
            if mailbox is not None:
                self.check_mailbox(child_text(mailbox, t("EmailAddress")))
            folder = self.mailbox.distinguished.get(el.get("Id", ""))
            if folder is None:
                raise folder_not_found()
            return folder
        if kind == "FolderId":
            decoded = decode_id(el.get("Id", ""))
            if decoded is None or decoded.kind != FOLDER:
                raise id_malformed()
            self._check_tag(decoded.tag, folder_not_found())
            folder = self.mailbox.folders.get(el.get("Id", ""))
            if folder is None:
                raise folder_not_found()
            return folder
        raise EwsError("ErrorInvalidIdMalformed", f"{kind} is not a folder id.")

    # -- items ------------------------------------------------------------------------------------
    def resolve_item(self, el: etree._Element) -> Item:
        if local(el) != "ItemId":
            raise EwsError("ErrorInvalidIdMalformed", f"{local(el)} is not supported here.")
        decoded = decode_id(el.get("Id", ""))
        if decoded is None or decoded.kind != ITEM:
            raise id_malformed()
        self._check_tag(decoded.tag, _item_not_found())
        item = self.mailbox.items.get(el.get("Id", ""))
        if item is None:
            raise _item_not_found()
        return item
