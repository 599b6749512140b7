"""tap-exchange-contacts over Microsoft Graph, end to end: the tap's console script against
``exchange-sandbox --tls --app …`` (one store over EWS and Graph) with client credentials by
msal and the sandbox's CA as ``ca_bundle``.

SPEC S1.1 (private folders only), S1.2 (categories in use), S9 / issue 14 (a quiet second run is
one delta call per private folder plus at most 2 requests), deletions as ``_sdc_deleted_at``, an
expired delta token read in full, S13.2 (EWS state does not break a Graph run), S10.3 and S11.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from exchange_mailbox.ews import EwsMailbox
from exchangelib import Contact
from graph_sandbox.testing import graph_settings
from sandbox_common.process import SandboxProcess, console_script, running_sandbox

from .conftest import PRIVATE_FOLDERS

pytestmark = pytest.mark.subprocess

TENANT, CLIENT, SECRET = "tenant-tap", "client-tap", "S3cret~tap-graph-0123"
ADDRESS, PASSWORD = "tapgraph@example.com", "pw-tapgraph"
INUSE = "inuse-graph@example.com"
SWITCH = "switch-graph@example.com"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    args = [
        "--tls", "--seed", "40",
        "--mailbox", f"{ADDRESS}:{PASSWORD}",
        "--mailbox", f"{INUSE}:pw-inuse",
        "--mailbox", f"{SWITCH}:pw-switch",
        "--app", f"{TENANT}:{CLIENT}:{SECRET}",
    ]  # fmt: skip
    with running_sandbox("exchange-sandbox", args) as sb:
        yield sb


def graph_config(sb: SandboxProcess, address: str = ADDRESS, **extra: Any) -> dict[str, Any]:
    app = graph_settings(sb, address, tenant=TENANT, client_id=CLIENT, secret=SECRET)
    return {**app, "categories": ["Clients", "Partners"], **extra}


def ews(sb: SandboxProcess, address: str, password: str) -> EwsMailbox:
    return EwsMailbox(
        {
            "primary_smtp_address": address,
            "password": password,
            "service_endpoint": f"{sb.base_url}/EWS/Exchange.asmx",
            "server_version": "15.1.2507.6",
            "ca_bundle": sb.cafile,
        }
    )


@dataclass
class Run:
    code: int
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    state: dict[str, Any] | None = None


def run_tap(
    config: dict[str, Any], tmp_path: Path, state: dict[str, Any] | None = None, **env: str
) -> Run:
    """``tap-exchange-contacts --config … [--state …]``, as Meltano runs it."""
    name = uuid.uuid4().hex[:8]
    config_file = tmp_path / f"config-{name}.json"
    config_file.write_text(json.dumps(config))
    argv = [console_script("tap-exchange-contacts"), "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / f"state-{name}.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, env={**os.environ, **env}, check=False
    )
    run = Run(done.returncode, done.stderr)
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            run.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            run.state = message["value"]
    return run


def graph_calls(sb: SandboxProcess, address: str) -> Counter[str]:
    """Graph requests for ``address`` by operation; batched sub-requests under ``batched:``."""
    tenant = sb.stats()["by_tenant"].get(address, {})
    out: Counter[str] = Counter()
    for kind in ("reads", "writes"):
        out.update({op: n for op, n in (tenant.get(kind) or {}).items() if "/v1.0/" in op})
    for ops in (tenant.get("batched") or {}).values():
        out.update({f"batched:{op}": n for op, n in ops.items()})
    return out


def http_requests(counts: Counter[str]) -> int:
    return sum(n for op, n in counts.items() if not op.startswith("batched:"))


DELTA = "GET /v1.0/users/{id}/contactFolders/{id}/contacts/delta"


@pytest.mark.spec("S1.1", "S1.2", "S9")
def test_private_folders_categories_and_a_quiet_second_run(sandbox, tmp_path) -> None:
    sandbox.reset()
    first = run_tap(graph_config(sandbox), tmp_path)
    assert first.code == 0, first.stderr
    contacts = first.records["contacts"]
    assert contacts
    assert {r["folder_path"] for r in contacts} <= PRIVATE_FOLDERS
    assert {r["path"] for r in first.records["contact_folders"]} == PRIVATE_FOLDERS
    for record in contacts:
        assert record["sell_link"] or {"Clients", "Partners"} & set(record["categories"])
    assert set(sandbox.stats()["by_tenant"]) == {ADDRESS}  # never another mailbox (S1.1)
    entries = first.state["bookmarks"]["contacts"]["folders"]
    assert {e["path"] for e in entries.values()} == PRIVATE_FOLDERS
    assert {e["protocol"] for e in entries.values()} == {"graph"}

    sandbox.reset()
    quiet = run_tap(graph_config(sandbox), tmp_path, first.state)
    assert quiet.code == 0, quiet.stderr
    assert quiet.records.get("contacts") is None
    counts = graph_calls(sandbox, ADDRESS)
    assert counts[DELTA] == len(PRIVATE_FOLDERS)
    # one delta call per private folder + the folder tree (one $batch) + the category list
    assert http_requests(counts) <= len(PRIVATE_FOLDERS) + 2, counts


@pytest.mark.spec("S9")
def test_edits_and_deletions_flow_in_the_next_run(sandbox, tmp_path) -> None:
    first = run_tap(graph_config(sandbox), tmp_path)
    box = ews(sandbox, ADDRESS, PASSWORD)
    marker = uuid.uuid4().hex[:8]
    folder = box.account.contacts
    Contact(
        folder=folder,
        display_name=f"New {marker}",
        given_name="New",
        surname=marker,
        categories=["Clients"],
    ).save()
    victim = next(
        c for c in folder.all() if isinstance(c, Contact) and "Clients" in (c.categories or ())
    )
    victim_graph_id = next(
        r["id"] for r in first.records["contacts"] if r["display_name"] == victim.display_name
    )
    victim.delete()
    box.close()
    second = run_tap(graph_config(sandbox), tmp_path, first.state)
    assert second.code == 0, second.stderr
    records = second.records["contacts"]
    assert [r["surname"] for r in records if not r.get("_sdc_deleted_at")] == [marker]
    deleted = [r for r in records if r.get("_sdc_deleted_at")]
    assert [r["id"] for r in deleted] == [victim_graph_id]


@pytest.mark.spec("S13.2")
def test_an_expired_delta_token_reads_the_folders_in_full(sandbox, tmp_path) -> None:
    first = run_tap(graph_config(sandbox), tmp_path)
    requests.post(
        f"{sandbox.base_url}/_sandbox/graph/expire-delta-tokens",
        params={"mailbox": ADDRESS},
        verify=sandbox.cafile,
        timeout=10,
    ).raise_for_status()
    again = run_tap(graph_config(sandbox), tmp_path, first.state)
    assert again.code == 0, again.stderr
    assert sorted(r["id"] for r in again.records["contacts"]) == sorted(
        r["id"] for r in first.records["contacts"]
    )
    assert "full re-read" in again.stderr
    quiet = run_tap(graph_config(sandbox), tmp_path, again.state)
    assert quiet.records.get("contacts") is None


@pytest.mark.spec("S13.2")
def test_ews_state_starts_a_full_graph_read_and_is_replaced(sandbox, tmp_path) -> None:
    ews_config = {
        "primary_smtp_address": SWITCH,
        "password": "pw-switch",
        "service_endpoint": f"{sandbox.base_url}/EWS/Exchange.asmx",
        "server_version": "15.1.2507.6",
        "ca_bundle": sandbox.cafile,
        "categories": ["Clients", "Partners"],
    }
    over_ews = run_tap(ews_config, tmp_path)
    assert over_ews.code == 0, over_ews.stderr
    assert "protocol" in next(iter(over_ews.state["bookmarks"]["contacts"]["folders"].values()))
    legacy = json.loads(json.dumps(over_ews.state))  # state written before the protocol key
    for entry in legacy["bookmarks"]["contacts"]["folders"].values():
        del entry["protocol"]
    for state in (over_ews.state, legacy):
        over_graph = run_tap(graph_config(sandbox, SWITCH), tmp_path, state)
        assert over_graph.code == 0, over_graph.stderr
        assert len(over_graph.records["contacts"]) == len(over_ews.records["contacts"])
        entries = over_graph.state["bookmarks"]["contacts"]["folders"]
        assert {e["protocol"] for e in entries.values()} == {"graph"}
        assert {e["path"] for e in entries.values()} == PRIVATE_FOLDERS


@pytest.mark.spec("S1.2")
def test_a_category_only_contacts_carry_is_in_use_over_graph(sandbox, tmp_path) -> None:
    box = ews(sandbox, INUSE, "pw-inuse")
    marker = uuid.uuid4().hex[:6]
    Contact(
        folder=box.account.contacts,
        display_name=f"Imported {marker}",
        given_name="Imported",
        surname=marker,
        categories=[f"Import {marker}"],
    ).save()
    box.close()
    run = run_tap(graph_config(sandbox, INUSE, categories=[f"import {marker}"]), tmp_path)
    assert run.code == 0, run.stderr
    assert [r["surname"] for r in run.records["contacts"]] == [marker]
    typo = run_tap(graph_config(sandbox, INUSE, categories=["Clientz"]), tmp_path)
    assert typo.code == 1
    assert "'Clientz'" in typo.stderr
    assert "Clients" in typo.stderr.split("Existing")[1]


@pytest.mark.spec("S10.3", "S11")
def test_a_wrong_secret_stops_the_tap_naming_client_secret_even_at_debug(sandbox, tmp_path):
    wrong = "Wr0ng~secret-for-the-tap"
    run = run_tap(graph_config(sandbox, client_secret=wrong), tmp_path, LOGLEVEL="DEBUG")
    assert run.code == 1
    assert run.records == {}
    assert "client_secret" in run.stderr
    assert wrong not in run.stderr
    good = run_tap(graph_config(sandbox), tmp_path, LOGLEVEL="DEBUG")
    assert good.code == 0, good.stderr
    assert "Graph GET" in good.stderr  # debug logging was on
    assert SECRET not in good.stderr
    assert "eyJ" not in good.stderr  # no JWT (the bearer token) anywhere in the log
