"""Microsoft Graph v1.0 (contacts, contact folders, master categories) over the EWS sandbox's store.

One process serves one mailbox store over EWS and Graph, as Exchange Online does (SPEC §3,
``exchange-sandbox``); facts from ``../shared/reference/graph-contacts.md``.
"""
