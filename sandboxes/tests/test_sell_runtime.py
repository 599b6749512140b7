"""CLI (SPEC §3), rate limit (§13 item 11), latency and every fault kind of ``--fault-rate``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sandbox_common import FaultInjector
from sandbox_common.process import running_sandbox
from sell_sandbox import DEMO_TOKEN
from sell_sandbox.app import FAULT_KINDS
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

SCRIPT = str(Path(sys.executable).with_name("sell-sandbox"))
TOKEN = make_token("runtime")


@pytest.mark.parametrize(
    "token",
    ["short-secret", "x" * 65, "a" * 30 + " " + "b" * 33],
    ids=["short", "long", "whitespace"],
)
def test_bad_token_exits_2_without_echo(token):
    done = subprocess.run(
        [SCRIPT, "--port", "0", "--token", token],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "64 characters" in done.stderr
    assert token not in done.stderr + done.stdout
    assert "ready" not in done.stdout


@pytest.mark.parametrize(
    "spec", ["contact:Exchange ID", "order:X:string", "lead:X:colour", "contact::string"]
)
def test_bad_custom_field_exits_2(spec):
    done = subprocess.run(
        [SCRIPT, "--port", "0", "--custom-field", spec],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--custom-field" in done.stderr


def test_demo_token_printed_and_usable():
    proc = subprocess.Popen(
        [SCRIPT, "--host", "127.0.0.1", "--port", "0", "--no-custom-fields"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline().strip() == f"demo token: {DEMO_TOKEN}"
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready"
        assert ready[1].startswith("http://127.0.0.1:")
        http = session(DEMO_TOKEN)
        assert http.get(f"{ready[1]}/v2/contacts").json()["items"] == []  # no --seed: empty
        assert http.get(f"{ready[1]}/v2/contact/custom_fields").json()["items"] == []
        resp = http.post(
            f"{ready[1]}/v2/contacts",
            json={"data": {"last_name": "X", "custom_fields": {"Exchange ID": "1"}}},
        )
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["error"]["field"] == "/custom_fields/Exchange ID"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_rate_limit_per_token_429_envelope():
    other = make_token("runtime-other")
    args = ["--token", TOKEN, "--token", other, "--rate-limit", "5"]
    with running_sandbox("sell-sandbox", args) as sb:
        http = session(TOKEN)
        statuses: list[int] = []
        while 429 not in statuses and len(statuses) < 40:  # bounded even on a slow machine
            statuses.append(http.get(f"{sb.base_url}/v2/users/self").status_code)
        assert statuses[:5] == [200] * 5
        assert statuses[-1] == 429
        resp = http.get(f"{sb.base_url}/v2/users/self")
        assert resp.status_code == 429
        body = resp.json()
        assert body["errors"][0]["error"]["code"] == "rate_limit_exceeded"
        assert body["meta"]["http_status"] == "429 Too Many Requests"
        assert body["meta"]["logref"] == resp.headers["X-Request-Id"]
        # Another token has its own budget.
        assert session(other).get(f"{sb.base_url}/v2/users/self").status_code == 200
        assert sb.stats()["statuses"]["429"] >= 2
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # the window slides: allowed again within ~1 s
            if http.get(f"{sb.base_url}/v2/users/self").status_code == 200:
                break
            time.sleep(0.1)
        else:
            pytest.fail("still rate limited after 3 s")


def test_latency_is_added():
    with running_sandbox("sell-sandbox", ["--token", TOKEN, "--latency-ms", "250"]) as sb:
        started = time.monotonic()
        assert session(TOKEN).get(f"{sb.base_url}/v2/users/self").status_code == 200
        assert time.monotonic() - started >= 0.25


FAULT_SEED, FAULT_RATE, WRITES = 11, 0.5, 30


def test_every_fault_kind_deterministically():
    expected = FaultInjector(FAULT_RATE, FAULT_KINDS, seed=FAULT_SEED)
    plan = [expected.draw() for _ in range(WRITES)]
    assert set(plan) == {None, *FAULT_KINDS}, "pick a seed that exercises every kind"
    args = ["--token", TOKEN, "--seed", str(FAULT_SEED), "--rate-limit", "0"]
    args += ["--fault-rate", str(FAULT_RATE), "--slow-fault-ms", "300"]
    with running_sandbox("sell-sandbox", args) as sb:
        http = session(TOKEN)
        for i, fault in enumerate(plan):
            started = time.monotonic()
            try:
                resp = http.post(
                    f"{sb.base_url}/v2/contacts", json={"data": {"last_name": f"W{i}"}}, timeout=10
                )
            except requests.ConnectionError:
                assert fault in ("drop_before", "drop_after"), (i, fault)
                continue
            elapsed = time.monotonic() - started
            if fault == "server_error":
                assert resp.status_code == 500
                assert resp.json()["errors"][0]["error"]["code"] == "server_error"
            elif fault == "unavailable":
                assert resp.status_code == 503
                assert resp.json()["errors"][0]["error"]["code"] == "temporarily_unavailable"
            else:
                assert fault in (None, "slow"), (i, fault)
                assert resp.status_code == 200
                assert (elapsed >= 0.3) == (fault == "slow"), (i, fault, elapsed)
        names = None
        for _ in range(40):  # reads are faulted too: retry until one answers
            try:
                resp = http.get(f"{sb.base_url}/v2/contacts?per_page=100", timeout=10)
            except requests.ConnectionError:
                continue
            if resp.status_code == 200:
                names = {i["data"]["last_name"] for i in resp.json()["items"]}
                break
        assert names is not None
        for i, fault in enumerate(plan):
            # A write dropped AFTER it was applied exists although the client saw an error.
            applied = fault in (None, "slow", "drop_after")
            assert (f"W{i}" in names) == applied, (i, fault)
        faults = sb.stats()["faults"]
        assert set(faults) == set(FAULT_KINDS)
