"""One Exchange mailbox behind one interface, shared by tap-exchange-contacts and target-exchange.

- ``interface``: the protocol-neutral ``Mailbox`` and its data (folders, categories, outcomes,
  the link property)
- ``settings``: the connection settings schema fragment and their validation
- ``errors``: setup errors that stop a plugin before any write (S10.3)
- ``ews``: the implementation over EWS (exchangelib)

No sync rules live here: what is in scope beyond the folders, and what to write, is the caller's.
"""

from .errors import ExchangeScopeError, ExchangeSetupError

__all__ = ["ExchangeScopeError", "ExchangeSetupError"]
