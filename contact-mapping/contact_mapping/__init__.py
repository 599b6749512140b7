"""Shared transform of the Exchange ⇄ Sell contact sync."""
