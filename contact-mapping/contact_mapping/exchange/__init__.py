"""Exchange (EWS) logic shared by tap-exchange-contacts and target-exchange.

Install with the ``exchange`` extra (``contact-mapping[exchange]``): it needs exchangelib.

- ``settings``: the connection settings schema fragment and their validation
- ``connection``: settings → a DELEGATE ``Account`` on the owner's mailbox, checked by a probe
- ``folders``: the private contact folders in scope (S1.1)
- ``contact_reader``: a folder's changes (SyncFolderItems + GetItem) as ``contacts`` records
- ``records``: the ``contacts`` record shape, its schema and the fields fetched
- ``link_property``: the Sell-link extended property on contacts
- ``category_list`` / ``master_categories``: the master category list, parsed and stored
"""

from .errors import ExchangeScopeError, ExchangeSetupError

__all__ = ["ExchangeScopeError", "ExchangeSetupError"]
