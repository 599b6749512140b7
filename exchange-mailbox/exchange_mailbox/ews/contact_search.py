"""Restricted FindItem over the private folders: questions answered without reading contacts.

- ``carried_categories``: which of some category names at least one contact carries (S1.2: a
  category exists when it is in the master list or on a contact). One FindItem per name, over
  every private folder at once (one ``ParentFolderIds`` list), ``IdOnly``, at most one row:
  ``IsEqualTo`` on the multi-valued ``item:Categories`` matches an item when any of its values
  does (reference §1.4).
- ``ids_in_scope``: the ids of a folder's items that carry a selected category or have the link
  property set (``Or`` of ``IsEqualTo`` per category and ``Exists`` on the link property),
  ``IdOnly`` in pages of 1,000 (Exchange's EWSFindCountLimit), so a first read fetches full
  items only for contacts in scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import Any

from exchangelib import Account, Q
from exchangelib.folders import FolderCollection

from ..interface import ContactFolder, ContactScope
from . import link_property

FIND_PAGE = 1000
"""Rows per FindItem answer: Exchange's default EWSFindCountLimit."""


def _raise_errors(rows: Any) -> Any:
    for row in rows:
        if isinstance(row, Exception):
            raise row
        yield row


def carried_categories(
    account: Account, folders: Sequence[ContactFolder], names: Sequence[str]
) -> list[str]:
    """Of ``names``, those carried by at least one item of ``folders`` (one request per name)."""
    if not folders:
        return []
    collection = FolderCollection(account=account, folders=[f.folder for f in folders])
    carried = []
    for name in dict.fromkeys(names):
        query = collection.filter(categories__contains=[name]).values_list("id", flat=True)
        if next(_raise_errors(query[:1]), None) is not None:
            carried.append(name)
    return carried


def scope_query(scope: ContactScope) -> Q:
    """Items carrying any of the scope's categories, or (``linked``) with the link property set."""
    terms = [Q(categories__contains=[name]) for name in dict.fromkeys(scope.categories)]
    if scope.linked:
        terms.append(Q(**{f"{link_property.FIELD_NAME}__exists": True}))
    if not terms:
        return Q(conn_type=Q.NEVER)
    return reduce(or_, terms)


def ids_in_scope(account: Account, folder: ContactFolder, scope: ContactScope) -> set[str]:
    """Ids of the folder's items in ``scope`` (IdOnly FindItem, 1,000 per page)."""
    query = scope_query(scope)
    if query.is_never():
        return set()
    rows = (
        FolderCollection(account=account, folders=[folder.folder])
        .filter(query)
        .values_list("id", flat=True)
    )
    rows.page_size = FIND_PAGE
    return set(_raise_errors(rows))
