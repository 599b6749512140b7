"""The tap with no endpoint set: exchangelib's own autodiscover finds the sandbox over TLS.

Only name resolution is redirected (see ``sandbox_common.names``): a DNS stub for
``autodiscover.contoso.test``, which exchangelib's dnspython resolver is pointed at, and that
name's port 443 mapped to the sandbox. The certificate (the sandbox's ``--tls``, which certifies
the names autodiscover tries) is checked against ``ca_bundle``.
"""

from __future__ import annotations

import pytest
from exchangelib.autodiscover import clear_cache
from exchangelib.autodiscover.discovery import Autodiscovery
from sandbox_common.names import DnsStub, map_https
from sandbox_common.process import running_sandbox

from .conftest import run_tap

pytestmark = pytest.mark.subprocess

HOST = "autodiscover.contoso.test"
ADDRESS = "ada@contoso.test"


@pytest.mark.spec("S1.1")
def test_the_tap_reads_a_mailbox_found_by_autodiscover(monkeypatch) -> None:
    args = ["--seed", "30", "--mailbox", f"{ADDRESS}:pw-ad", "--tls"]
    with running_sandbox("ews-sandbox", args) as ews:
        port = int(ews.base_url.rsplit(":", 1)[1])
        clear_cache()
        with DnsStub({HOST: "127.0.0.1"}) as dns, map_https([HOST], ("127.0.0.1", port)):
            monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_KWARGS", {"configure": False})
            monkeypatch.setattr(
                Autodiscovery,
                "DNS_RESOLVER_ATTRS",
                {**Autodiscovery.DNS_RESOLVER_ATTRS, **dns.resolver_attrs},
            )
            config = {
                "primary_smtp_address": ADDRESS,
                "password": "pw-ad",
                "ca_bundle": ews.cafile,
                "categories": ["Clients"],
            }
            run = run_tap(config)
        clear_cache()
        stats = ews.stats()
    assert run.records["contacts"]
    assert all("Clients" in r["categories"] or r["sell_link"] for r in run.records["contacts"])
    assert stats["reads"]["GetUserSettings"] == 2
    assert stats["reads"]["SyncFolderItems"] >= 4
