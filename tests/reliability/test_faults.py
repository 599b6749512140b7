"""S10.2 / S7.2: a two-way sync through faulty systems ends as one through healthy systems.

Both sandboxes answer 10 % of requests with a fault (Sell: 500, 503, connection dropped before or
after the write, slow answers; EWS: ErrorServerBusy with a short back-off hint, 503, drops, slow;
Microsoft Graph, when both Exchange plugins use it: 429 and 503 with Retry-After, drops, slow)
and Sell rate-limits below the plugins' pace, so 429s come too. ``meltano run two-way-sync`` is
re-run as a scheduler would when a run fails after its retries, until it succeeds. The end state
must equal that of one fault-free run of the same seeded data.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from graph_sandbox.testing import graph_settings
from sandbox_common.meltano_project import MeltanoProject

from tests.conftest import (
    GRAPH_APP,
    PASSWORD,
    ROOT,
    demo_env,
    graph_demo_env,
    graph_sandbox_args,
    make_token,
)
from tests.reliability.end_state import counter_diff, end_state

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("meltano"),
    pytest.mark.spec("S7.2", "S10.2"),
]

SEED = "250"
MAILBOX = "faults@reliability.example"
MAX_RUNS = 6  # a scheduler's patience: the fault rate makes a failed run likely, never six
SCHEDULED = 2  # two scheduled syncs: the second also meets faults while reading back echoes


def _project(workdir: Path, sell, ews, token: str, protocol: str) -> MeltanoProject:
    project = MeltanoProject.isolated(ROOT, workdir)
    env = demo_env(sell, ews, token, MAILBOX)
    if protocol == "graph":
        env |= graph_demo_env(ews)
    for target in ("TARGET_SELL_CONTACTS", "TARGET_EXCHANGE"):
        env[f"{target}_LEDGER_URL"] = f"sqlite:///{workdir / 'ledger.db'}"
    # Creates through the ledger's intents (upserts by Exchange id: test_exchange_ids.py).
    env["TARGET_SELL_CONTACTS_EXCHANGE_ID_FIELD"] = ""
    project.env |= env
    return project


def _sync_until_success(project: MeltanoProject) -> list[int]:
    """SCHEDULED successful runs of the job, each re-run after a failure (at most MAX_RUNS)."""
    codes: list[int] = []
    for _ in range(MAX_RUNS):
        proc = project.run("--environment=demo", "run", "two-way-sync", check=False)
        codes.append(proc.returncode)
        if codes.count(0) == SCHEDULED:
            return codes
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    pytest.fail(f"two-way-sync still failing after {MAX_RUNS} runs {codes}:\n{tail}")


def _read_as(protocol: str, exchange) -> dict | None:
    """How the end state reads the mailbox: over EWS, or over Graph as the plugins did (the
    ledger then holds Graph ids)."""
    return graph_settings(exchange, MAILBOX, **GRAPH_APP) if protocol == "graph" else None


@pytest.mark.parametrize("protocol", ["ews", "graph"])
def test_two_way_sync_under_faults_equals_fault_free_run(sandboxes_factory, tmp_path, protocol):
    token = make_token("faults")
    mailbox_arg = ["--mailbox", f"{MAILBOX}:{PASSWORD}"]
    exchange, exchange_faults = "ews-sandbox", ["--backoff-ms", "100", "--slow-ms", "300"]
    if protocol == "graph":  # Retry-After: the back-off in whole seconds (at least 1)
        exchange, mailbox_arg = "exchange-sandbox", [*mailbox_arg, *graph_sandbox_args()]
        exchange_faults = ["--backoff-ms", "1000", "--slow-ms", "300", "--latency-ms", "5"]
    healthy = sandboxes_factory(
        ["--seed", SEED, "--token", token, "--rate-limit", "0"],
        ["--seed", SEED, *mailbox_arg],
        exchange,
    )
    sell_faults = ["--rate-limit", "8", "--fault-rate", "0.1", "--slow-fault-ms", "300"]
    faulty = sandboxes_factory(
        ["--seed", SEED, "--token", token, *sell_faults],
        ["--seed", SEED, *mailbox_arg, "--fault-rate", "0.1", *exchange_faults],
        exchange,
    )
    (tmp_path / "healthy").mkdir()
    (tmp_path / "faulty").mkdir()
    reference = _project(tmp_path / "healthy", *healthy, token, protocol)
    project = _project(tmp_path / "faulty", *faulty, token, protocol)

    with ThreadPoolExecutor(2) as pool:
        ref_codes, codes = pool.map(_sync_until_success, (reference, project))
    assert ref_codes == [0] * SCHEDULED
    print("fault runs exit codes:", codes)

    sell_stats, ews_stats = faulty[0].stats(), faulty[1].stats()
    print("Sell faults:", sell_stats["faults"], "statuses:", sell_stats["statuses"])
    print("Exchange faults:", ews_stats["faults"], "statuses:", ews_stats["statuses"])
    assert sum(sell_stats["faults"].values()) >= 10
    assert sell_stats["statuses"].get("429", 0) > 0
    assert sum(ews_stats["faults"].values()) >= 1
    if protocol == "graph":  # Graph's busy answers: 429 (server_busy) and 503, with Retry-After
        assert ews_stats["statuses"].get("429", 0) + ews_stats["statuses"].get("503", 0) > 0

    expected = end_state(*healthy, token, MAILBOX, _read_as(protocol, healthy[1]))
    got = end_state(*faulty, token, MAILBOX, _read_as(protocol, faulty[1]))
    assert len(expected.sell) > 150  # the seeded records and those synced from Exchange
    assert not got.duplicates(), got.duplicates()[:10]
    assert not got.link_problems(tmp_path / "faulty" / "ledger.db")[:10]
    assert got.sell_contents() == expected.sell_contents(), counter_diff(
        got.sell_contents(), expected.sell_contents()
    )
    assert got.exchange_contents() == expected.exchange_contents(), counter_diff(
        got.exchange_contents(), expected.exchange_contents()
    )
