"""Singer tap for the Zendesk Sell REST API."""
