"""Singer target sell-contacts."""
