"""Singer tap for Exchange contacts over EWS or Microsoft Graph."""
