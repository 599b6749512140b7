"""sell sandbox."""
