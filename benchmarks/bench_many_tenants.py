"""Benchmark (table 9): quiet tenant cycles per hour per core through Dagster and Celery.

    .venv/bin/python benchmarks/bench_many_tenants.py [--tenants 40]

The stack of `make orchestrate` without the webserver (``contact-sync-stack serve``: the Dagster
daemon and 2 Celery workers of one run each), PostgreSQL databases of its own, a sell-sandbox and
an ews-sandbox with ``--tenants`` tokens / mailboxes (``--seed 10``), every tenant registered.
Three rounds, each started by un-pausing every tenant at once and ended when each has a
successful run started after that: the initial sync, the round that absorbs its echoes, and the
measured quiet round. Measured: the round's wall time, the CPU-seconds of every process of the
stack (daemon, code server, workers and the meltano trees they ran, from /proc), and the CPU of
the meltano trees alone (each run's "meltano CPU seconds" metadata). The orchestrator's overhead
per run is the difference, per run; the baseline is the meltano tree's own cost in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from common import ROOT, log, print_table
from contact_mapping.testing_db import private_postgres_database
from sandbox_common.process import running_sandbox

ORCH_BIN = ROOT / "orchestration" / ".venv" / "bin"
PASSWORD = "many-tenants-password"  # noqa: S105 - the sandbox mailboxes' made-up password


def token(index: int) -> str:
    return f"{index:04d}" + "b" * 60


def tree_cpu(root_pid: int) -> float:
    """CPU-seconds of ``root_pid``'s descendants, including the children they waited for."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return total / ticks


def dagster_runs(env: dict[str, str]) -> list[dict]:
    out = subprocess.run(
        [str(ORCH_BIN / "contact-sync-stack"), "runs"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=40)
    args = parser.parse_args()
    n = args.tenants
    with ExitStack() as stack:
        urls = {name: stack.enter_context(private_postgres_database(f"bench_{name}"))
                for name in ("dagster", "meltano", "ledger", "registry")}  # fmt: skip
        sell = stack.enter_context(running_sandbox(
            "sell-sandbox",
            ["--rate-limit", "0", "--seed", "10",
             *[a for i in range(n) for a in ("--token", token(i))]],
        ))  # fmt: skip
        ews = stack.enter_context(running_sandbox(
            "ews-sandbox",
            ["--seed", "10",
             *[a for i in range(n) for a in ("--mailbox", f"user@t{i}.example:{PASSWORD}")]],
        ))  # fmt: skip
        home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = {
            **os.environ,
            "CONTACT_SYNC_DAGSTER_PG_URL": urls["dagster"],
            "CONTACT_SYNC_REGISTRY_URL": urls["registry"],
            "CONTACT_SYNC_MELTANO_DATABASE_URI": urls["meltano"],
            "CONTACT_SYNC_LEDGER_URL": urls["ledger"],
            "CONTACT_SYNC_CELERY_QUEUE": f"bench-{os.getpid()}",
            "CONTACT_SYNC_INTERVAL_SECONDS": "10",
            "BENCH_PASSWORD": PASSWORD,
            "DAGSTER_HOME": str(home),
            **{f"BENCH_TOKEN_{i}": token(i) for i in range(n)},
        }
        subprocess.run(
            [str(ROOT / ".venv/bin/meltano"), "upgrade", "database"], cwd=ROOT,
            env={**os.environ, "MELTANO_DATABASE_URI": urls["meltano"]},
            check=True, capture_output=True,
        )  # fmt: skip
        for i in range(n):
            subprocess.run(
                [str(ORCH_BIN / "contact-sync-tenants"), "add", f"t{i}", "--paused",
                 "--mailbox", f"user@t{i}.example",
                 "--exchange", f"service_endpoint={ews.base_url}/EWS/Exchange.asmx",
                 "--exchange", "server_version=15.1.2507.6", "--categories", "Clients,Partners",
                 "--sell", f"api_url={sell.base_url}", "--sell", "exchange_id_field=Exchange ID",
                 "--secret", "exchange_password=env:BENCH_PASSWORD",
                 "--secret", f"sell_api_token=env:BENCH_TOKEN_{i}"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
        serve = subprocess.Popen(
            [str(ORCH_BIN / "contact-sync-stack"), "serve", "--home", str(home),
             "--no-webserver", "--workers", "2", "--concurrency", "1"],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        stack.callback(lambda: (serve.send_signal(signal.SIGTERM), serve.wait(120)))
        assert serve.stdout is not None
        serve.stdout.readline()
        registry = sa.create_engine(urls["registry"])
        dagster = sa.create_engine(urls["dagster"])
        stack.callback(registry.dispose)
        stack.callback(dagster.dispose)

        def succeeded_since(since: float) -> int:
            with dagster.connect() as db:
                if not sa.inspect(db).has_table("run_tags"):
                    return 0
                return db.execute(sa.text(
                    "SELECT count(DISTINCT t.value) FROM runs r JOIN run_tags t"
                    " ON t.run_id = r.run_id AND t.key = 'contact_sync/tenant'"
                    " WHERE r.status = 'SUCCESS' AND r.start_time > :s"
                ), {"s": since}).scalar()  # fmt: skip

        def in_progress() -> int:
            with dagster.connect() as db:
                return db.execute(sa.text(
                    "SELECT count(*) FROM runs WHERE status NOT IN"
                    " ('SUCCESS', 'FAILURE', 'CANCELED')"
                )).scalar()  # fmt: skip

        rounds = []
        for number in (1, 2, 3):
            cpu_before, started = tree_cpu(serve.pid), time.time()
            with registry.begin() as db:
                db.execute(sa.text("UPDATE contact_sync_tenants SET paused = false"))
            while succeeded_since(started) < n:
                time.sleep(1)
            wall = time.time() - started
            with registry.begin() as db:
                db.execute(sa.text("UPDATE contact_sync_tenants SET paused = true"))
            while in_progress():
                time.sleep(1)
            cpu = tree_cpu(serve.pid) - cpu_before
            rounds.append((started, wall, cpu))
            log(f"round {number}: {n} tenants in {wall:.0f} s, {cpu:.0f} CPU-s of the stack")
        runs = [r for r in dagster_runs(env) if r["start_time"] and r["start_time"] > rounds[2][0]
                and r["metadata"].get("meltano CPU seconds")]  # fmt: skip
    started, wall, cpu = rounds[2]
    meltano_cpu = sum(r["metadata"]["meltano CPU seconds"] for r in runs) / len(runs)
    meltano_wall = sum(r["metadata"]["wall seconds"] for r in runs) / len(runs)
    run_wall = sum(r["end_time"] - r["start_time"] for r in runs) / len(runs)
    per_cycle = cpu / n
    overhead = per_cycle - meltano_cpu
    print_table(
        f"Table 9 - {n} sandbox tenants, a quiet round through Dagster + 2 Celery workers",
        ["measure", "value"],
        [
            ["tenants cycled (quiet round)", f"{n} ({len(runs)} runs with metadata)"],
            ["round wall time", f"{wall:.0f} s"],
            ["stack CPU-s per tenant cycle (all processes)", f"{per_cycle:.2f}"],
            ["meltano tree CPU-s per cycle (baseline)", f"{meltano_cpu:.2f}"],
            [
                "orchestrator overhead per run, CPU-s",
                f"{overhead:.2f} ({overhead / meltano_cpu:.2f}x baseline)",
            ],
            ["orchestrator overhead per run, wall s", f"{run_wall - meltano_wall:.2f}"],
            ["tenant cycles per hour per core (3600 / CPU-s per cycle)", f"{3600 / per_cycle:.0f}"],
            ["cores for 1,000 tenants every 15 min", f"{1000 * 4 * per_cycle / 3600:.1f}"],
        ],
    )


if __name__ == "__main__":
    main()
