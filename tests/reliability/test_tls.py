"""S11: TLS certificates are verified unless the user gives a CA bundle or turns checks off.

Each plugin talks to a sandbox served over HTTPS with a self-signed certificate: without
`ca_bundle` it stops with a clear message naming the setting; with `ca_bundle` naming the
certificate it works.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_common.process import running_sandbox
from sell_sandbox import DEMO_TOKEN

from tests.reliability.tls import self_signed

pytestmark = [pytest.mark.subprocess, pytest.mark.spec("S10.3", "S11")]

MAILBOX, PASSWORD = "tls@example.com", "tls-password"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def sell_https(cert):
    cert_path, key_path = cert
    args = [
        "--rate-limit",
        "0",
        "--seed",
        "5",
        "--tls-cert",
        str(cert_path),
        "--tls-key",
        str(key_path),
    ]
    with running_sandbox("sell-sandbox", args) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def ews_https(cert):
    cert_path, key_path = cert
    args = ["--mailbox", f"{MAILBOX}:{PASSWORD}", "--seed", "5"]
    args += ["--tls-cert", str(cert_path), "--tls-key", str(key_path)]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


def _run(plugin: str, config: dict, tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess:
    path = tmp_path / f"{plugin}.json"
    path.write_text(json.dumps(config))
    exe = str(Path(sys.executable).with_name(plugin))
    return subprocess.run(
        [exe, "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
    )


def _sell_config(sandbox, **extra) -> dict:
    return {"api_url": sandbox.base_url, "api_token": DEMO_TOKEN, **extra}


def _ews_config(sandbox, **extra) -> dict:
    return {
        "service_endpoint": f"{sandbox.base_url}/EWS/Exchange.asmx",
        "primary_smtp_address": MAILBOX,
        "username": MAILBOX,
        "password": PASSWORD,
        "auth_type": "basic",
        "server_version": "15.1.2507.6",
        **extra,
    }


def _refused(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout[-2000:]
    text = proc.stderr
    assert "ca_bundle" in text, text[-3000:]
    assert '"type":"RECORD"' not in proc.stdout.replace(" ", "")
    return text


def test_tap_sell_refuses_self_signed_then_accepts_ca_bundle(sell_https, cert, tmp_path):
    assert sell_https.base_url.startswith("https://")
    _refused(_run("tap-sell", _sell_config(sell_https), tmp_path))
    ok = _run("tap-sell", _sell_config(sell_https, ca_bundle=str(cert[0])), tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert '"stream":"contacts"' in ok.stdout.replace(" ", "")


def test_tap_exchange_refuses_self_signed_then_accepts_ca_bundle(ews_https, cert, tmp_path):
    config = _ews_config(ews_https, categories=["Clients"])
    _refused(_run("tap-exchange-contacts", config, tmp_path))
    ok = _run("tap-exchange-contacts", {**config, "ca_bundle": str(cert[0])}, tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert '"stream":"contacts"' in ok.stdout.replace(" ", "")


def _singer(stream: str, record: dict) -> str:
    schema = {"type": "object", "properties": {k: {} for k in record}}
    lines = [
        {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]},
        {"type": "RECORD", "stream": stream, "record": record},
        {"type": "STATE", "value": {"bookmarks": {}}},
    ]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


EXCHANGE_RECORD = {
    "id": "AAMk-tls-1",
    "given_name": "Tess",
    "surname": "Layer",
    "email_address_1": "tess@tls.example",
    "categories": ["Clients"],
    "last_modified_time": "2026-01-01T00:00:00Z",
}
SELL_RECORD = {
    "id": 7,
    "is_organization": False,
    "first_name": "Tess",
    "last_name": "Layer",
    "email": "tess@tls.example",
    "updated_at": "2026-01-01T00:00:00Z",
}


def test_targets_refuse_self_signed_before_any_write(sell_https, ews_https, tmp_path):
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    sell_https.reset()
    ews_https.reset()
    sell_target = _sell_config(sell_https, ledger_url=ledger)
    _refused(
        _run(
            "target-sell-contacts",
            sell_target,
            tmp_path,
            stdin=_singer("contacts", EXCHANGE_RECORD),
        )
    )
    ews_target = _ews_config(ews_https, ledger_url=ledger)
    _refused(_run("target-exchange", ews_target, tmp_path, stdin=_singer("contacts", SELL_RECORD)))
    assert sell_https.stats()["total_writes"] == 0
    assert ews_https.stats()["total_writes"] == 0
