"""Singer target exchange."""
