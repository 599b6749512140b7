"""The EWS implementation of the mailbox interface, over exchangelib 5.6.

By concept, as exchangelib itself is cut:

- ``connection``: settings → a DELEGATE ``Account`` on the owner's mailbox, checked by a probe
- ``transport``: the HTTP adapter (TLS policy per endpoint, safe retries of reads, NTLM restarts)
- ``retry_policy``: honours ``ErrorServerBusy`` back-off, bounded by ``retry_max_wait``
- ``folders``: the private contact folders in scope (S1.1)
- ``contact_reader``: a folder's changes (SyncFolderItems + GetItem) as ``contacts`` records
- ``records``: the ``contacts`` record shape, its schema and the fields fetched
- ``category_list`` / ``master_categories``: the master category list, parsed and stored
- ``link_property``: the Sell-link extended property on contacts
- ``writer``: batched GetItem / CreateItem / UpdateItem with one outcome per item
- ``mailbox``: ``EwsMailbox``, all of the above behind ``exchange_mailbox.interface.Mailbox``
"""

from .mailbox import EwsMailbox

__all__ = ["EwsMailbox"]
