"""ews sandbox."""
