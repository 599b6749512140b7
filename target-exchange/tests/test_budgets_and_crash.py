"""Request budgets (README) and the SIGKILL crash test (S7.2), against ews-sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exchange_mailbox.ews import link_property

from .conftest import CONTACT_SCHEMA, person

N = 1000


def singer_file(path: Path, records) -> Path:
    lines = [
        {"type": "SCHEMA", "stream": "contacts", "schema": CONTACT_SCHEMA, "key_properties": ["id"]}
    ]
    lines += [{"type": "RECORD", "stream": "contacts", "record": r} for r in records]
    lines.append({"type": "STATE", "value": {"bookmarks": {"contacts": {"n": len(records)}}}})
    path.write_text("\n".join(json.dumps(m) for m in lines) + "\n")
    return path


def signature(contacts) -> set[tuple]:
    return {
        (
            c.display_name,
            c.email_addresses[0].email if c.email_addresses else None,
            tuple(c.categories or ()),
            getattr(c, link_property.FIELD_NAME),
        )
        for c in contacts
    }


@pytest.mark.spec("S9")
@pytest.mark.slow
def test_budget_create_1000_then_nothing_changed(env):
    records = [person(i) for i in range(1, N + 1)]
    env.ews.reset()
    report = env.run({"contacts": records})
    stats = env.ews.stats()["by_tenant"][env.mailbox]
    assert report["streams"]["contacts"]["created"] == N
    assert stats["total_writes"] <= 15, stats
    print("create 1000:", stats)
    env.ews.reset()
    report = env.run({"contacts": records})
    stats = env.ews.stats()["by_tenant"][env.mailbox]
    print("nothing changed:", stats)
    assert stats["total_reads"] + stats["total_writes"] <= 5, stats
    assert report["streams"]["contacts"]["unchanged"] == N


def _run_target(env, cfg: Path, data: Path, tmp_path: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("target-exchange")
    return subprocess.Popen(
        [str(exe), "--config", str(cfg)],
        stdin=data.open(),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("ab"),
        env={**os.environ},
    )


@pytest.mark.spec("S7.2")
@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_leaves_no_duplicates(env, tmp_path):
    records = [person(i) for i in range(1, N + 1)]
    data = singer_file(tmp_path / "contacts.jsonl", records)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(env.config()))
    env.ews.reset()
    proc = _run_target(env, cfg, data, tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        creates = env.ews.stats()["by_tenant"].get(env.mailbox, {}).get("writes", {})
        if creates.get("CreateItem", 0) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the target finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert b"bookmarks" not in out  # no state emitted past unwritten records
    crashed_count = len(env.contacts())
    assert 0 < crashed_count < N
    rerun = _run_target(env, cfg, data, tmp_path)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0
    assert b'"n": 1000' in out
    contacts = env.contacts()
    links = [getattr(c, link_property.FIELD_NAME) for c in contacts]
    assert len(contacts) == N
    assert len(set(links)) == N
    expected = {
        (f"First{i} Last{i}", f"person{i}@example.org", ("Sell Person",), f"contact:{i}")
        for i in range(1, N + 1)
    }
    assert signature(contacts) == expected
