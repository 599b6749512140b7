"""In-memory mailboxes: folders, items, user configurations and the change log behind sync.

Each mailbox is one tenant. Everything runs on the server's single event loop, so the store needs
no locks. Every change bumps a per-mailbox sequence number; SyncFolderItems states are positions in
that sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ews_sandbox.ids import CONFIG, FOLDER, ITEM, encode_change_key, encode_id, mailbox_tag

# Exchange maps these names to the GUIDs of MS-OXPROPS; keys are stored by GUID so both spellings
# of one property meet.
DISTINGUISHED_PROPERTY_SETS = {
    "Meeting": "6ED8DA90-450B-101B-98DA-00AA003F1305",
    "Appointment": "00062002-0000-0000-C000-000000000046",
    "Common": "00062008-0000-0000-C000-000000000046",
    "PublicStrings": "00020329-0000-0000-C000-000000000046",
    "Address": "00062004-0000-0000-C000-000000000046",
    "InternetHeaders": "00020386-0000-0000-C000-000000000046",
    "CalendarAssistant": "11000E07-B51B-40D6-AF21-CAA85EDAB1D0",
    "UnifiedMessaging": "4442858E-A9E3-4E80-B900-317A210CC15B",
    "Task": "00062003-0000-0000-C000-000000000046",
    "Sharing": "00062040-0000-0000-C000-000000000046",
}
PR_ATTR_HIDDEN = 0x10F4


@dataclass(frozen=True)
class ExtKey:
    """Identity of an extended property: (property set / tag, name or id, MAPI type)."""

    set_id: str | None
    name: str | None
    prop_id: int | None
    tag: int | None
    type: str

    @property
    def is_array(self) -> bool:
        return self.type.endswith("Array")


@dataclass(eq=False)
class Folder:
    serial: int
    id: str
    parent: Folder | None
    display_name: str
    folder_class: str | None
    element: str  # Folder | ContactsFolder | CalendarFolder | TasksFolder
    distinguished: str | None = None
    public: bool = False
    version: int = 1
    children: list[Folder] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    ext: dict[ExtKey, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """Human path used in stats: ``Contacts/Clients``, ``Public Folders/Company Contacts``."""
        if self.distinguished == "root":
            return "Root"
        if self.distinguished == "msgfolderroot":
            return "Top of Information Store"
        if self.distinguished == "publicfoldersroot":
            return "Public Folders"
        names = [self.display_name]
        node = self.parent
        while node is not None and node.distinguished not in ("root", "msgfolderroot"):
            if node.distinguished == "publicfoldersroot":
                names.append("Public Folders")
                break
            names.append(node.display_name)
            node = node.parent
        return "/".join(reversed(names))

    def descendants(self) -> list[Folder]:
        out: list[Folder] = []
        for child in self.children:
            out.append(child)
            out.extend(child.descendants())
        return out


@dataclass(eq=False)
class Item:
    serial: int
    id: str
    kind: str  # Contact | DistributionList
    folder: Folder
    props: dict[str, Any]
    ext: dict[ExtKey, Any]
    created: datetime
    modified: datetime
    version: int = 1
    seq: int = 0  # last change
    entered_seq: int = 0  # when it arrived in its current folder
    field_versions: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class UserConfig:
    serial: int
    id: str
    folder: Folder
    name: str
    dictionary: Any = None  # a stored copy of the t:Dictionary element
    xml_data: bytes | None = None
    binary_data: bytes | None = None
    version: int = 1


@dataclass(frozen=True)
class Tombstone:
    seq: int
    folder: Folder
    item_id: str
    entered_seq: int


class Mailbox:
    """One tenant's mailbox; also owns the tenant's copy of the public-folder tree."""

    def __init__(self, address: str, password: str | None, display_name: str | None = None):
        self.address = address
        self.password = password
        self.display_name = display_name or address.split("@", 1)[0].replace(".", " ").title()
        self.tag = mailbox_tag(address)
        self._serial = 0
        self.seq = 0
        self.folders: dict[str, Folder] = {}
        self.distinguished: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.tombstones: list[Tombstone] = []
        self.configs: dict[tuple[str, str], UserConfig] = {}
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)

    # -- identities and time ------------------------------------------------------------------
    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def now(self) -> datetime:
        """Wall-clock UTC to the second, never going backwards within a mailbox."""
        current = datetime.now(UTC).replace(microsecond=0)
        self._clock = max(self._clock, current)
        return self._clock

    def change_key(self, obj: Folder | Item | UserConfig) -> str:
        return encode_change_key(self.tag, obj.serial, obj.version)

    # -- folders --------------------------------------------------------------------------------
    def add_folder(
        self,
        parent: Folder | None,
        name: str,
        folder_class: str | None,
        *,
        element: str = "Folder",
        distinguished: str | None = None,
        public: bool = False,
        hidden: bool = False,
    ) -> Folder:
        serial = self._next_serial()
        folder = Folder(
            serial=serial,
            id=encode_id(self.tag, FOLDER, serial),
            parent=parent,
            display_name=name,
            folder_class=folder_class,
            element=element,
            distinguished=distinguished,
            public=public,
        )
        if hidden:
            folder.ext[ExtKey(None, None, None, PR_ATTR_HIDDEN, "Boolean")] = "true"
        if parent is not None:
            parent.children.append(folder)
        self.folders[folder.id] = folder
        if distinguished:
            self.distinguished[distinguished] = folder
        return folder

    # -- items ------------------------------------------------------------------------------------
    def add_item(
        self,
        folder: Folder,
        kind: str,
        props: dict[str, Any],
        ext: dict[ExtKey, Any],
        *,
        created: datetime | None = None,
    ) -> Item:
        serial = self._next_serial()
        when = created or self.now()
        seq = self.next_seq()
        item = Item(
            serial=serial,
            id=encode_id(self.tag, ITEM, serial),
            kind=kind,
            folder=folder,
            props=props,
            ext=ext,
            created=when,
            modified=when,
            seq=seq,
            entered_seq=seq,
        )
        self.items[item.id] = item
        folder.items[item.id] = item
        return item

    def record_change(self, item: Item, changed: set[str]) -> None:
        item.version += 1
        item.modified = self.now()
        item.seq = self.next_seq()
        for key in changed:
            item.field_versions[key] = item.version
        # Items are listed in change order inside a folder, as Exchange lists by default.
        item.folder.items.pop(item.id, None)
        item.folder.items[item.id] = item

    def move_item(self, item: Item, target: Folder) -> None:
        seq = self.next_seq()
        self.tombstones.append(Tombstone(seq, item.folder, item.id, item.entered_seq))
        item.folder.items.pop(item.id, None)
        item.folder = target
        target.items[item.id] = item
        item.seq = seq
        item.entered_seq = seq
        item.version += 1
        item.modified = self.now()

    def delete_item(self, item: Item) -> None:
        seq = self.next_seq()
        self.tombstones.append(Tombstone(seq, item.folder, item.id, item.entered_seq))
        item.folder.items.pop(item.id, None)
        del self.items[item.id]

    # -- user configurations ------------------------------------------------------------------
    def add_config(self, folder: Folder, name: str) -> UserConfig:
        serial = self._next_serial()
        config = UserConfig(serial, encode_id(self.tag, CONFIG, serial), folder, name)
        self.configs[(folder.id, name)] = config
        return config

    def seed_clock(self, offset_minutes: int) -> datetime:
        """Deterministic creation times for seeded data (2024-01-01 + n minutes)."""
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_minutes)


def build_folder_tree(mailbox: Mailbox) -> None:
    """The folder tree a new Exchange 2016 mailbox has, plus a small public-folder tree."""
    add = mailbox.add_folder
    root = add(None, "", None, distinguished="root")
    top = add(root, "Top of Information Store", None, distinguished="msgfolderroot")
    for dist, name in (
        ("inbox", "Inbox"),
        ("drafts", "Drafts"),
        ("sentitems", "Sent Items"),
        ("deleteditems", "Deleted Items"),
        ("outbox", "Outbox"),
        ("junkemail", "Junk Email"),
        ("conversationhistory", "Conversation History"),
    ):
        add(top, name, "IPF.Note", distinguished=dist)
    add(top, "Calendar", "IPF.Appointment", element="CalendarFolder", distinguished="calendar")
    contacts = add(
        top, "Contacts", "IPF.Contact", element="ContactsFolder", distinguished="contacts"
    )
    system = (
        ("Recipient Cache", "IPF.Contact.RecipientCache", "recipientcache", True),
        ("GAL Contacts", "IPF.Contact.GalContacts", None, True),
        ("Organizational Contacts", "IPF.Contact.OrganizationalContacts", None, True),
        ("Quick Contacts", "IPF.Contact.MOC.QuickContacts", "quickcontacts", True),
        ("IM Contact List", "IPF.Contact.MOC.ImContactList", "imcontactlist", True),
        ("Companies", "IPF.Contact.Company", None, True),
        ("{06967759-274D-40B2-A3EB-D7F9E73727D7}", "IPF.Contact", None, True),
    )
    for name, cls, dist, hidden in system:
        add(contacts, name, cls, element="ContactsFolder", distinguished=dist, hidden=hidden)
    add(top, "Tasks", "IPF.Task", element="TasksFolder", distinguished="tasks")
    add(top, "Notes", "IPF.StickyNote", distinguished="notes")
    add(top, "Journal", "IPF.Journal", distinguished="journal")
    recoverable = add(root, "Recoverable Items", None, distinguished="recoverableitemsroot")
    add(recoverable, "Deletions", None, distinguished="recoverableitemsdeletions")
    add(recoverable, "Versions", None, distinguished="recoverableitemsversions")
    add(recoverable, "Purges", None, distinguished="recoverableitemspurges")
    public = add(None, "IPM_SUBTREE", None, distinguished="publicfoldersroot", public=True)
    shared = add(public, "Company Contacts", "IPF.Contact", element="ContactsFolder", public=True)
    add(shared, "Suppliers", "IPF.Contact", element="ContactsFolder", public=True)
