"""exchangelib's HTTP adapter, made per endpoint: TLS verification and safe retries of reads.

exchangelib picks its requests adapter from a class attribute shared by every connection in the
process (``BaseProtocol.HTTP_ADAPTER_CLS``), so two things cannot be set per account there:
- "turn verification off" / "use this CA bundle": the adapter looks the policy up by URL prefix;
  only endpoints a plugin registered get a non-default ``verify``;
- retrying a dropped connection: with one session per endpoint exchangelib re-raises connection
  resets at once (``ErrorTimeoutExpired``), which would fail a run on one blip (S10.2). urllib3's
  ``Retry`` does it here, but only for EWS operations that read: a POST that changes the mailbox
  is never sent twice by this layer (its answer may have been lost after the write happened).
- answers are parsed in whole chunks (``WholeChunkResponse``), not byte by byte.
- NTLM authenticates the TCP connection: the last handshake leg (``Authorization: NTLM <type 3>``,
  which carries the request itself) re-sent on a new connection answers the challenge of a
  connection that is gone, so the server says 401 and the run would fail with "rejected the
  credentials". A read whose type 3 is dropped is instead sent again without that header, and the
  401 it gets goes back to the auth hook (requests_ntlm), which runs a fresh handshake on the new
  connection. (A dropped type 1 is simply re-sent: the challenge then comes on the new one.)
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterator
from typing import Any

import requests.adapters
import requests.exceptions
from exchangelib.protocol import BaseProtocol
from requests.hooks import dispatch_hook
from urllib3.util.retry import Retry

_lock = threading.Lock()
_policies: dict[str, bool | str] = {}

READ_OPERATIONS = frozenset(
    {
        "ConvertId",
        "FindFolder",
        "FindItem",
        "GetFolder",
        "GetItem",
        "GetUserConfiguration",
        "ResolveNames",
        "SyncFolderHierarchy",
        "SyncFolderItems",
    }
)
_OPERATION_RE = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]+)")
# Reads: connection refused, reset or dropped before the answer → up to 3 more tries,
# 0.5 s, 1 s, 2 s apart. Writes: none (exchangelib's own default).
READ_RETRY = Retry(
    total=3, connect=3, read=3, status=0, other=0, allowed_methods=None, backoff_factor=0.5
)
NO_RETRY = Retry(total=0, read=False)
NTLM_AUTHENTICATE = b"NTLMSSP\x00\x03\x00\x00\x00"  # signature + message type 3
HANDSHAKE_RESTARTS = 3  # per request, like the three read retries
CONTENT_CHUNK = 64 * 1024


def operation_of(body: object) -> str | None:
    """The EWS operation a SOAP request names (first element of ``s:Body``); None for a body
    that is not a SOAP document in memory (empty, or a stream)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if not data or not isinstance(data, bytes):
        return None
    match = _OPERATION_RE.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def ntlm_authenticate_leg(request: requests.PreparedRequest) -> bool:
    """True when the request carries an NTLM type 3, valid only on its own connection."""
    header = request.headers.get("Authorization", "")
    if isinstance(header, bytes):  # requests accepts either; auth hooks set str
        header = header.decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("ntlm", "negotiate"):  # requests_ntlm answers either with NTLM
        return False
    try:
        return base64.b64decode(token.strip()[:20]).startswith(NTLM_AUTHENTICATE)
    except (binascii.Error, ValueError):
        return False


class WholeChunkResponse(requests.Response):
    """exchangelib parses ``response.iter_content()``, whose default chunk is ONE byte: a 1 MB
    answer, already in memory, went through a million generator steps before lxml saw it (about
    a quarter of a full read's time). An answer already read is handed over in ``CONTENT_CHUNK``
    pieces instead; a streamed one keeps requests' default."""

    def iter_content(
        self, chunk_size: int | None = None, decode_unicode: bool = False
    ) -> Iterator[Any]:
        if chunk_size is None:
            chunk_size = CONTENT_CHUNK if self._content_consumed else 1
        if decode_unicode:
            return super().iter_content(chunk_size, decode_unicode=True)
        return super().iter_content(chunk_size)


class EndpointAdapter(requests.adapters.HTTPAdapter):
    """Registered ``verify`` for the URL, read-only retries (see module docstring), and answers
    parsed in whole chunks (``WholeChunkResponse``)."""

    _restarts = 0

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = WholeChunkResponse
        return response

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        # requests calls send(request, stream=, timeout=, verify=, cert=, proxies=) by keyword.
        kwargs["verify"] = policy_for(request.url or "", default=kwargs.get("verify", True))
        # One connection per adapter and one thread per session in exchangelib: safe to set.
        read = operation_of(request.body) in READ_OPERATIONS
        if not (read and ntlm_authenticate_leg(request)):
            self.max_retries = READ_RETRY if read else NO_RETRY
            return super().send(request, *args, **kwargs)
        self.max_retries = NO_RETRY
        try:
            return super().send(request, *args, **kwargs)
        except requests.exceptions.ConnectionError:
            if self._restarts >= HANDSHAKE_RESTARTS:
                raise
        # The connection and its handshake are gone: start over, as for a dropped plain read.
        fresh = request.copy()
        del fresh.headers["Authorization"]
        self._restarts += 1
        try:
            response = self.send(fresh, *args, **kwargs)
            return dispatch_hook("response", fresh.hooks, response, **kwargs)
        finally:
            self._restarts -= 1


def policy_for(url: str, *, default: bool | str = True) -> bool | str:
    """Longest registered prefix wins; the empty prefix (autodiscover) matches everything."""
    with _lock:
        matches = [p for p in _policies if url.startswith(p)]
        return _policies[max(matches, key=len)] if matches else default


def install() -> None:
    """Make exchangelib use ``EndpointAdapter``; refuses to replace someone else's adapter."""
    with _lock:
        current = BaseProtocol.HTTP_ADAPTER_CLS
        if current is EndpointAdapter:
            return
        if current is not requests.adapters.HTTPAdapter:
            msg = (
                f"exchangelib already uses a custom HTTP adapter ({current.__name__}); "
                "the Exchange plugins need their own (TLS settings, retries)"
            )
            raise RuntimeError(msg)
        BaseProtocol.HTTP_ADAPTER_CLS = EndpointAdapter


def forget_all() -> None:
    """Drop every registered policy: a process that goes on to another Exchange (a test
    session, say) must not verify it with the CA bundle of one it is done with."""
    with _lock:
        _policies.clear()


def register(prefix: str, verify: bool | str) -> None:
    """Use ``verify`` for every URL starting with ``prefix`` (``""`` = every Exchange URL)."""
    install()
    with _lock:
        if verify is True:
            _policies.pop(prefix, None)
        else:
            _policies[prefix] = verify
