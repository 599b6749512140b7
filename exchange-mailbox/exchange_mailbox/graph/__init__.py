"""The Microsoft Graph implementation of the mailbox interface (requests + msal), app-only.

By concept, as ``ews`` is cut:

- ``transport``: one mailbox's HTTP (token, TLS, ``Prefer: IdType="ImmutableId"``, urllib3
  retries honouring ``Retry-After`` bounded by ``retry_max_wait``, at most 4 requests in flight)
- ``errors``: Graph's error envelope as ``GraphError``; configuration errors explained (S10.3)
- ``batch``: JSON ``$batch`` of 20, answers by id, busy reads resent
- ``folders``: the private contact folders (contactFolders + childFolders, S1.1)
- ``contact_reader``: a folder's changes (contacts ``delta``) as ``contacts`` records
- ``contact_json``: Graph's contact JSON ⇄ the record; ``GraphContact``, the write-side item
- ``master_categories``: ``outlook/masterCategories`` edited like the EWS list
- ``writer``: batched GET / POST / PATCH with one outcome per item
- ``mailbox``: ``GraphMailbox``, all of the above behind ``exchange_mailbox.interface.Mailbox``
"""

from .mailbox import GraphMailbox

__all__ = ["GraphMailbox"]
