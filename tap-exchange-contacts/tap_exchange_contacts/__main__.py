"""``python -m tap_exchange_contacts`` = the ``tap-exchange-contacts`` console script."""

from tap_exchange_contacts.tap import TapExchangeContacts

TapExchangeContacts.cli()
