"""NTLM for the ``--mailbox`` credentials: pyspnego's acceptor does the protocol and the crypto.

NTLM authenticates a TCP connection, not a request (type 1 → 401 with the type 2 challenge →
type 3), and clients such as requests_ntlm send the following requests on that keep-alive
connection without any ``Authorization`` header. So the state lives per transport: a pending
challenge, or the mailbox the connection proved. It is held weakly and pruned once the transport
closes, so a new connection always starts unauthenticated.

pyspnego's acceptor looks users up in the file named by env ``NTLM_USER_FILE`` (read when the
acceptor is made and again for every type 3). We write that file in the smbpasswd form
(``USER:UID:LM:NT:FLAGS:LCT``) with NT hashes only, so passwords containing ``:`` work and no
plaintext password is written to disk (the file is private and removed when the app stops). A
user line without ``DOMAIN\\`` matches a client that sends an empty domain: exchangelib's
``"\\" + address`` for e-mail usernames, or the bare address.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import spnego

# The NT hash exactly as pyspnego computes it (a private module: pyspnego is pinned in
# constraints.txt), so hashing stays the library's, not ours.
from spnego._ntlm_raw.crypto import ntowfv1

from ews_sandbox.store import Mailbox

USER_FILE_ENV = "NTLM_USER_FILE"
_SIGNATURE = b"NTLMSSP\x00"
_NO_LM_HASH = "0" * 32  # LM hashes are not stored (Windows' NoLMHash default); NTLMv1/v2 use NT
# The env var is process-wide; the lock lets several sandboxes in one process each use their file.
_ENV_LOCK = threading.Lock()


class NtlmRejectedError(Exception):
    """The NTLM message was malformed, out of sequence, or proved no sandbox mailbox."""


@dataclass
class _Connection:
    acceptor: spnego.ContextProxy | None = None  # waiting for the type 3
    mailbox: Mailbox | None = None  # the handshake succeeded


@contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _ENV_LOCK:
        previous = os.environ.get(USER_FILE_ENV)
        os.environ[USER_FILE_ENV] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(USER_FILE_ENV, None)
            else:
                os.environ[USER_FILE_ENV] = previous


def _message_type(token: bytes) -> int:
    if len(token) < 12 or not token.startswith(_SIGNATURE):
        raise NtlmRejectedError
    return int.from_bytes(token[8:12], "little")


class NtlmAuthenticator:
    """Per-connection NTLM handshakes against the mailboxes that have a password."""

    def __init__(self, mailboxes: Mapping[str, Mailbox]) -> None:
        self._mailboxes = mailboxes
        self._connections: weakref.WeakKeyDictionary[asyncio.BaseTransport, _Connection] = (
            weakref.WeakKeyDictionary()
        )
        fd, name = tempfile.mkstemp(prefix="ews-sandbox-ntlm-", suffix=".smbpasswd")
        self.user_file = Path(name)
        lines = [
            f"{m.address}:0:{_NO_LM_HASH}:{base64.b16encode(ntowfv1(m.password)).decode()}"
            ":[U]:LCT-00000000\n"
            for m in mailboxes.values()
            if m.password is not None
        ]
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
            out.writelines(lines)

    def close(self) -> None:
        self._connections.clear()
        with suppress(FileNotFoundError):
            self.user_file.unlink()

    def __len__(self) -> int:
        """Live connections with a handshake pending or done (closed ones are pruned first)."""
        self._prune()
        return len(self._connections)

    def _prune(self) -> None:
        for transport in [t for t in self._connections if t.is_closing()]:
            self._connections.pop(transport, None)

    def authenticated(self, transport: asyncio.BaseTransport | None) -> Mailbox | None:
        """The mailbox this connection proved with a completed handshake, if any."""
        if transport is None or transport.is_closing():
            return None
        state = self._connections.get(transport)
        return state.mailbox if state is not None else None

    def step(self, transport: asyncio.BaseTransport | None, credentials: str) -> bytes | Mailbox:
        """Feed ``Authorization: NTLM <credentials>``: the type 2 challenge for a type 1, the
        mailbox for a valid type 3; NtlmRejectedError otherwise (the connection is then
        unauthenticated, as after any failed handshake).
        """
        if transport is None or transport.is_closing():
            raise NtlmRejectedError
        self._prune()
        previous = self._connections.pop(transport, None)
        try:
            token = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NtlmRejectedError from exc
        kind = _message_type(token)
        if kind == 1:
            acceptor, challenge = self._accept(None, token)
            if not challenge:
                raise NtlmRejectedError
            self._connections[transport] = _Connection(acceptor=acceptor)
            return challenge
        if kind != 3 or previous is None or previous.acceptor is None:
            raise NtlmRejectedError
        acceptor, _ = self._accept(previous.acceptor, token)
        principal = acceptor.client_principal if acceptor.complete else None
        mailbox = self._mailboxes.get((principal or "").rsplit("\\", 1)[-1].lower())
        if mailbox is None or mailbox.password is None:
            raise NtlmRejectedError
        self._connections[transport] = _Connection(mailbox=mailbox)
        return mailbox

    def _accept(
        self, acceptor: spnego.ContextProxy | None, token: bytes
    ) -> tuple[spnego.ContextProxy, bytes | None]:
        """One acceptor step (a new acceptor for a type 1); pyspnego reads the file each time."""
        try:
            with _user_file(self.user_file):
                if acceptor is None:
                    acceptor = spnego.server(
                        protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm
                    )
                return acceptor, acceptor.step(token)
        except Exception as exc:  # a wrong password or a garbled token is a 401, never a 500
            raise NtlmRejectedError from exc
