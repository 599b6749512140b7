"""Singer target writing Exchange contacts into Zendesk Sell (see README.md)."""

__version__ = "0.1.0"
