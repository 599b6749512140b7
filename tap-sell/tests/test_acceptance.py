"""Acceptance against the Sell sandbox: completeness, re-runs, changes, faults, resume, 401."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import cast

import pytest
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient
from singer_sdk.exceptions import FatalAPIError
from tap_sell.client import SellStream
from tap_sell.tap import TapSell

pytestmark = pytest.mark.subprocess

TOKEN = "s" * 40 + "0123456789abcdef01234567"
INCREMENTAL = ("contacts", "leads", "deals")
TAP = str(Path(sys.executable).with_name("tap-sell"))


def config_for(sandbox, **extra: object) -> dict:
    return {"api_token": TOKEN, "api_url": sandbox.base_url, "requests_per_second": 0, **extra}


@pytest.fixture
def sell2000():
    with running_sandbox(
        "sell-sandbox", ["--seed", "2000", "--rate-limit", "0", "--token", TOKEN]
    ) as sb:
        yield sb


@pytest.fixture
def api(sell2000) -> SellSandboxClient:
    return SellSandboxClient(sell2000.base_url, TOKEN)


def assert_exactly_once(run, api) -> None:
    for stream in INCREMENTAL:
        ids = run.ids(stream)
        duplicates = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicates, f"{stream}: emitted twice: {duplicates[:5]}"
        assert sorted(ids) == sorted(api.all_ids(stream)), stream


def incremental_reads(sandbox) -> dict[str, int]:
    reads = sandbox.stats()["reads"]
    return {s: reads.get(f"GET /v2/{s}", 0) for s in INCREMENTAL}


@pytest.mark.spec("S9")
def test_seed_2000_once_then_quiet_then_exactly_the_changes(sell2000, api, tap_runner) -> None:
    first = tap_runner(config_for(sell2000))
    assert len(first.ids("contacts")) == 2000
    assert_exactly_once(first, api)
    for stream in INCREMENTAL:
        assert set(first.state["bookmarks"][stream]) == {
            "replication_key",
            "replication_key_value",
            "bookmark_ids",
        }

    sell2000.reset()
    quiet = tap_runner(config_for(sell2000), first.state)
    assert all(quiet.ids(s) == [] for s in INCREMENTAL)
    assert all(n <= 2 for n in incremental_reads(sell2000).values()), incremental_reads(sell2000)

    changed = [first.ids("contacts")[i] for i in (0, 7, 500, 1400, 1999)]
    for contact_id in changed:
        api.update("contacts", contact_id, description=f"changed {contact_id}")
    after = tap_runner(config_for(sell2000), quiet.state)
    assert sorted(after.ids("contacts")) == sorted(changed)
    assert all(r["description"] == f"changed {r['id']}" for r in after.records["contacts"])
    assert after.ids("leads") == []
    assert after.ids("deals") == []
    assert tap_runner(config_for(sell2000), after.state).ids("contacts") == []


@pytest.mark.spec("S10.2")
def test_rate_limited_faulty_sandbox_gives_the_same_records(sell2000, api, tap_runner) -> None:
    clean = tap_runner(config_for(sell2000), streams=INCREMENTAL)
    args = ["--seed", "2000", "--token", TOKEN, "--rate-limit", "5", "--fault-rate", "0.1"]
    args += ["--slow-fault-ms", "300"]
    with running_sandbox("sell-sandbox", args) as faulty:
        run = tap_runner(config_for(faulty, requests_per_second=5), streams=INCREMENTAL)
        stats = faulty.stats()
    for stream in INCREMENTAL:
        assert sorted(run.ids(stream)) == sorted(clean.ids(stream)), stream
        assert len(set(run.ids(stream))) == len(run.ids(stream)), stream
    assert sum(stats["faults"].values()) > 0, stats["faults"]  # the faults did happen
    # pacing at the limit: no 429 beyond those the fault injector itself produced
    assert stats["statuses"].get("429", 0) <= stats["faults"].get("429", 0) + 1, stats


class _LineReader:
    """Reads a child's stdout on a thread, so no line is left in a buffer we stop reading.

    ``Popen.communicate`` reads the raw descriptor: lines already pulled into ``proc.stdout``'s
    buffer by ``readline`` would be silently dropped (this made the resume test "lose" records).
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def until_records(self, stream: str, count: int, timeout: float) -> list[str]:
        taken: list[str] = []
        seen = 0
        deadline = time.monotonic() + timeout
        while seen < count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"only {seen} {stream} records within {timeout}s") from None
            if line is None:
                break
            taken.append(line)
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] == stream:
                seen += 1
        return taken

    def rest(self, timeout: float) -> list[str]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the tap did not finish within {timeout}s"
        taken = []
        while (line := self.lines.get_nowait()) is not None:
            taken.append(line)
        return taken


def _messages(lines: list[str]):
    for line in lines:
        if line.startswith("{"):
            yield json.loads(line)


@pytest.mark.spec("S7.2")
def test_killed_subprocess_resumes_without_loss(sell2000, api, tmp_path, tap_runner) -> None:
    """SIGTERM mid-stream (as Meltano/Kubernetes stop a run), then resume from the last STATE."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sell2000, requests_per_second=10)))
    catalog = tmp_path / "catalog.json"
    discovered = subprocess.run(
        [TAP, "--config", str(config), "--discover"], capture_output=True, text=True, check=True
    )
    catalog_data = json.loads(discovered.stdout)
    for entry in catalog_data["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "contacts"
    catalog.write_text(json.dumps(catalog_data))

    proc = subprocess.Popen(
        [TAP, "--config", str(config), "--catalog", str(catalog)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    reader = _LineReader(proc)
    try:
        lines = reader.until_records("contacts", 900, timeout=60)
        proc.send_signal(signal.SIGTERM)
        lines += reader.rest(timeout=30)
        assert proc.wait(timeout=30) == 0  # the SDK exits cleanly on SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    messages = list(_messages(lines))
    before = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert 900 <= len(before) < 2000, "the run should have been stopped part-way"
    state = states[-1]
    assert "pass" in state["bookmarks"]["contacts"]  # resumable progress, not a moved bookmark

    resumed = tap_runner(config_for(sell2000), state, streams=("contacts",))
    assert set(before) | set(resumed.ids("contacts")) == set(api.all_ids("contacts"))
    assert len(resumed.ids("contacts")) <= 2000 - len(before) + 100  # at most a page again
    assert tap_runner(config_for(sell2000), resumed.state).ids("contacts") == []


@pytest.mark.spec("S10.3")
def test_rejected_token_stops_at_once_with_a_clear_message(sell2000, tmp_path) -> None:
    unknown = "x" * 64
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**config_for(sell2000), "api_token": unknown}))
    sell2000.reset()
    proc = subprocess.run(
        [TAP, "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert "api_token was rejected by Sell (401 unauthorized)" in proc.stderr
    assert unknown not in proc.stderr + proc.stdout
    assert sell2000.stats()["total"] == 1  # no retries, no further streams


@pytest.mark.spec("S10.3")
@pytest.mark.parametrize("token", ["short", "a" * 63 + " ", "b" * 65])
def test_malformed_token_is_refused_before_any_request(sell2000, tmp_path, token) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**config_for(sell2000), "api_token": token}))
    sell2000.reset()
    proc = subprocess.run(
        [TAP, "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert "api_token must be a Sell access token of 64 characters" in proc.stderr
    assert token.strip() not in proc.stderr
    assert sell2000.stats()["total"] == 0


@pytest.mark.spec("S11")
def test_other_client_errors_carry_sells_code_and_details(sell2000) -> None:
    stream = cast(SellStream, TapSell(config=config_for(sell2000)).streams["contacts"])
    with pytest.raises(FatalAPIError) as caught:
        stream.get_json({"per_page": 500})
    message = str(caught.value)
    assert "400" in message
    assert "invalid_param" in message
    assert "per_page" in message
    assert TOKEN not in message


def test_requests_carry_the_user_agent_sell_requires(sell2000) -> None:
    tap = TapSell(config=config_for(sell2000, user_agent="acme-sync/2.0"))
    assert cast(SellStream, tap.streams["users"]).user_agent == "acme-sync/2.0"
    default = TapSell(config=config_for(sell2000))
    assert cast(SellStream, default.streams["users"]).user_agent.startswith("tap-sell/")
