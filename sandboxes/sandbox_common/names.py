"""Let an unmodified client find a sandbox by DNS name, offline: for autodiscover tests.

A client that discovers its server (exchangelib's autodiscover) asks DNS for names such as
``autodiscover.contoso.test`` and connects to port 443 of what it finds, checking the server's
certificate against that name. Three pieces redirect exactly that, and nothing in the client:

- ``DnsStub``: a DNS server on 127.0.0.1 (UDP, dnspython's wire format) answering A queries for
  the given names and NXDOMAIN for every other name; point a dnspython ``Resolver`` at it;
- ``map_https``: ``socket.getaddrinfo`` answers ``(name, 443)`` with the sandbox's address and
  port, so requests/urllib3 reach the sandbox while TLS still checks the name;

The certificate comes from the sandbox itself: ``--tls`` certifies the names autodiscover tries
for its mailbox domains, and prints its CA for the client's ``ca_bundle``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    """A UDP DNS server on 127.0.0.1 that knows only ``names`` (name → IPv4 address)."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = {n.lower().rstrip("."): ip for n, ip in names.items()}
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def resolver_attrs(self) -> dict[str, Any]:
        """Attributes that point a dnspython ``Resolver`` (made with ``configure=False``) here."""
        return {"nameservers": ["127.0.0.1"], "port": self.port}

    def __enter__(self) -> DnsStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return  # closed
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            self._sock.sendto(self.answer(query).to_wire(), peer)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        if name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            response.answer.append(
                dns.rrset.from_text(question.name, 60, "IN", "A", self.names[name])
            )
        return response  # a known name without that record type: NOERROR, no answer


@contextmanager
def map_https(names: Iterable[str], address: tuple[str, int]) -> Iterator[None]:
    """While active, connections to ``(name, 443)`` for ``names`` go to ``address``."""
    mapped = {n.lower().rstrip(".") for n in names}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list:
        if isinstance(host, str) and host.lower().rstrip(".") in mapped and str(port) == "443":
            return real(address[0], address[1], *args, **kwargs)
        return real(host, port, *args, **kwargs)

    with mock.patch("socket.getaddrinfo", getaddrinfo):
        yield
