"""Singer tap for Exchange contacts over EWS."""
