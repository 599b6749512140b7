"""ErrorServerBusy from ews-sandbox (``--fault-rate``, kind ``server_busy``: a SOAP Fault with
BackOffMilliseconds, nothing applied): honoured with its back-off, bounded by ``retry_max_wait``;
a run through faults ends in the same state as a fault-free run."""

from __future__ import annotations

import contextlib
import io
import json
import time

import pytest
from exchange_mailbox.ews import link_property
from exchangelib.errors import RateLimitError
from sandbox_common.process import running_sandbox
from target_exchange.target import TargetExchange

from .conftest import CONTACT_SCHEMA, PASSWORD, Env, company, lead, person

MAILBOX = "busy@example.com"
T2 = "2025-02-01T10:00:00Z"


def scenario(env: Env) -> list[dict]:
    """Create 230 records, then change 40 of them; returns both reports."""
    people = [person(i) for i in range(1, 221)]
    first = env.run(
        {
            "contacts": [company(900, "Acme"), *people],
            "leads": [lead(i) for i in range(1, 10)],
        }
    )
    changed = [person(i, title=f"Title {i}", updated_at=T2) for i in range(1, 41)]
    second = env.run({"contacts": changed})
    return [first, second]


def end_state(env: Env) -> set[tuple]:
    return {
        (
            c.display_name,
            c.job_title,
            tuple(c.categories or ()),
            getattr(c, link_property.FIELD_NAME),
        )
        for c in env.contacts()
    }


def counts(reports: list[dict]) -> list[dict]:
    keep = ("created", "updated", "unchanged", "rejected", "conflicts")
    return [{s: {k: v[k] for k in keep} for s, v in r["streams"].items()} for r in reports]


@pytest.mark.spec("S10.2", "S7.2")
@pytest.mark.slow
def test_busy_server_run_ends_like_a_fault_free_run(ews, tmp_path):
    args = ["--mailbox", f"{MAILBOX}:{PASSWORD}", "--fault-rate", "0.3"]
    args += ["--fault-kinds", "server_busy", "--backoff-ms", "30"]
    clean = Env(ews, "user39@example.com", tmp_path / "clean")
    clean.tmp.mkdir()
    expected_reports = scenario(clean)
    with running_sandbox("ews-sandbox", args) as busy_ews:
        busy = Env(busy_ews, MAILBOX, tmp_path / "busy")
        busy.tmp.mkdir()
        reports = scenario(busy)
        faults = busy_ews.stats()["faults"]
        assert faults.get("server_busy", 0) >= 5, faults
        assert end_state(busy) == end_state(clean)
    assert len(end_state(clean)) == 230
    assert counts(reports) == counts(expected_reports)


@pytest.mark.spec("S10.2")
@pytest.mark.subprocess
def test_server_that_stays_busy_fails_the_run_within_retry_max_wait(tmp_path):
    # Busy 19 times in 20 (seeded, so the same spells every time). The shared retry policy
    # bounds every request from the connection probe on; the first spell longer than
    # retry_max_wait ends the run (the bound itself: contact-mapping's test_exchange_retry_policy).
    args = ["--mailbox", f"{MAILBOX}:{PASSWORD}", "--fault-rate", "0.95"]
    args += ["--fault-kinds", "server_busy", "--backoff-ms", "100"]
    with running_sandbox("ews-sandbox", args) as busy_ews:
        env = Env(busy_ews, MAILBOX, tmp_path)
        config = env.config(retry_max_wait=1.0)
        lines = [
            {
                "type": "SCHEMA",
                "stream": "contacts",
                "schema": CONTACT_SCHEMA,
                "key_properties": ["id"],
            },
            {"type": "RECORD", "stream": "contacts", "record": person(1)},
            {"type": "STATE", "value": {"bookmarks": {"x": 1}}},
        ]
        out = io.StringIO()
        started = time.monotonic()
        with contextlib.redirect_stdout(out), pytest.raises(RateLimitError, match="retry_max_wait"):
            TargetExchange(config=config).listen(
                io.StringIO("\n".join(json.dumps(m) for m in lines) + "\n")
            )
        elapsed = time.monotonic() - started
        assert elapsed < 15, elapsed
        assert "bookmarks" not in out.getvalue()
        assert busy_ews.stats()["faults"]["server_busy"] >= 2  # it did retry before giving up
