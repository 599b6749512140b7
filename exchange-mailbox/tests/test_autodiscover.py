"""Autodiscover, offline and unmodified: exchangelib finds the EWS endpoint on the sandbox.

Only names are redirected: a DNS stub answers for ``autodiscover.contoso.test`` (exchangelib's
own dnspython resolver is pointed at it through its ``Autodiscovery.DNS_RESOLVER_*`` settings),
and ``(autodiscover.contoso.test, 443)`` is mapped to the sandbox's port. Everything else is
exchangelib's autodiscover as shipped: step 1 (``https://contoso.test/…``) fails on DNS, step 2
(``https://autodiscover.contoso.test/…``) learns the auth scheme from a 401 and asks
GetUserSettings over TLS, checked against ``ca_bundle``. Failures name a setting (S10.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews import EwsMailbox, connection
from exchangelib.autodiscover import clear_cache
from exchangelib.autodiscover.discovery import Autodiscovery
from sandbox_common.names import DnsStub, map_https
from sandbox_common.process import SandboxProcess, running_sandbox

pytestmark = pytest.mark.subprocess

DOMAIN = "contoso.test"
HOST = f"autodiscover.{DOMAIN}"
ADDRESS = f"ada@{DOMAIN}"
PASSWORD = "pw-Autodiscover"


@pytest.fixture(scope="module")
def ews() -> Iterator[SandboxProcess]:
    """--tls: the sandbox's own CA, certifying the names autodiscover tries for contoso.test."""
    args = ["--seed", "8", "--mailbox", f"{ADDRESS}:{PASSWORD}", "--tls"]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def ca(ews: SandboxProcess) -> Path:
    assert ews.cafile
    return Path(ews.cafile)


@pytest.fixture
def network(ews: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsStub]:
    """DNS knows autodiscover.contoso.test (and nothing else); its port 443 is the sandbox."""
    port = int(ews.base_url.rsplit(":", 1)[1])
    clear_cache()  # exchangelib keeps found endpoints on disk across processes
    with DnsStub({HOST: "127.0.0.1"}) as dns, map_https([HOST], ("127.0.0.1", port)):
        monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_KWARGS", {"configure": False})
        monkeypatch.setattr(
            Autodiscovery,
            "DNS_RESOLVER_ATTRS",
            {**Autodiscovery.DNS_RESOLVER_ATTRS, **dns.resolver_attrs},
        )
        yield dns
    clear_cache()


def _config(ca: Path, **extra: object) -> dict:
    return {"primary_smtp_address": ADDRESS, "password": PASSWORD, "ca_bundle": str(ca), **extra}


@pytest.mark.spec("S10.3")
@pytest.mark.parametrize("autodiscover", [True, None], ids=["autodiscover-true", "default"])
def test_autodiscover_finds_the_ews_endpoint_over_tls(
    ews: SandboxProcess, network: DnsStub, ca: Path, autodiscover: bool | None
) -> None:
    config = _config(ca)
    if autodiscover is not None:
        config["autodiscover"] = autodiscover
    ews.reset()
    mailbox = EwsMailbox(config)
    try:
        assert mailbox.settings.autodiscover is True
        folders = mailbox.private_folders()
        endpoint = mailbox.account.protocol.service_endpoint
    finally:
        mailbox.close()
    assert endpoint == f"https://{HOST}/EWS/Exchange.asmx"
    assert folders[0].path == "Contacts"
    reads = ews.stats()["reads"]
    # The auth probe (401) and GetUserSettings, then EWS itself on the endpoint found.
    assert reads["GetUserSettings"] == 2
    assert reads["GetFolder"] >= 1
    # Step 1 asked DNS for the bare domain and got nothing; step 2's name answered.
    assert (DOMAIN, "A") in network.queries
    assert (HOST, "A") in network.queries


@pytest.mark.spec("S10.3")
def test_a_wrong_address_names_primary_smtp_address(network: DnsStub, ca: Path) -> None:
    config = _config(ca, primary_smtp_address=f"nobody@{DOMAIN}", username=ADDRESS)
    with pytest.raises(ExchangeSetupError) as info:
        connection.connect(config)
    assert info.value.setting == "primary_smtp_address"
    assert f"nobody@{DOMAIN}" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.spec("S10.3")
def test_a_domain_without_autodiscover_names_the_setting(network: DnsStub, ca: Path) -> None:
    config = _config(ca, primary_smtp_address="ada@fabrikam.test")
    with pytest.raises(ExchangeSetupError) as info:
        connection.connect(config)
    assert info.value.setting == "autodiscover"
    assert "set 'service_endpoint' or 'server'" in str(info.value)
    # Steps 1, 2 and 3 failed on DNS and step 4 found no SRV record: no HTTP request was made.
    assert {q for q in network.queries if "fabrikam" in q[0]} == {
        ("fabrikam.test", "A"),
        ("autodiscover.fabrikam.test", "A"),
        ("_autodiscover._tcp.fabrikam.test", "SRV"),
    }


@pytest.mark.spec("S10.3")
def test_without_the_ca_bundle_the_certificate_is_refused(network: DnsStub, ca: Path) -> None:
    config = _config(ca)
    del config["ca_bundle"]
    with pytest.raises(ExchangeSetupError) as info:
        connection.connect(config)
    # exchangelib's autodiscover turns every step's TLS failure into "all steps failed".
    assert info.value.setting == "autodiscover"
