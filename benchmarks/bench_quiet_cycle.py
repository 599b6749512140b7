"""Benchmark (table 8): CPU-seconds and wall time of a quiet two-way cycle of one tenant.

    .venv/bin/python benchmarks/bench_quiet_cycle.py [--cycles 3]

One tenant (sell-sandbox and ews-sandbox, ``--seed 20``), Meltano's system DB and the ledger on
PostgreSQL. After two cycles that sync and absorb the sync's own writes, each variant runs
``--cycles`` quiet cycles (nothing to write) and the table shows the median CPU-seconds of the
whole process tree (Meltano and the four plugins, from ``RUSAGE_CHILDREN``) and wall seconds:

- *before*: ``meltano --environment=prod run`` of the four plugins as an orchestrator had to run
  it before this work: a fresh Meltano system directory per run (two tenants on one machine must
  not share ``.meltano/run/``, meltano#8763), so both taps run discovery every time; no process
  finds bytecode (``meltano install`` leaves the plugin venvs without any, and this machine sets
  PYTHONDONTWRITEBYTECODE, so none was ever written: the state the issue measured at 9.5 CPU-s,
  here also without Meltano's own bytecode); the worker's whole environment;
- the same command with bytecode everywhere (what ``make setup`` now compiles for the plugin
  venvs), to show how much of the difference is bytecode and how much the cycle itself;
- *orchestrated*: the orchestrator's own cycle (``contact-sync-stack cycle``: the tenant lock,
  the recovery checks, the ``meltano run`` the Dagster op runs), after ``make setup``.

The baseline is the *before* row measured in the same run; the ratio is its CPU over each row's.
Needs PostgreSQL at 127.0.0.1:5432 (trust, database ``test``) and ``make setup``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from common import ROOT, log, print_table
from contact_mapping.testing_db import private_postgres_database
from sandbox_common.meltano_project import env_prefix
from sandbox_common.process import running_sandbox

TOKEN = "quiet" + "0" * 59
MAILBOX = "quiet@example.com"
PASSWORD = "quiet-cycle-password"  # noqa: S105 - the sandbox mailbox's made-up password
ORCH_BIN = ROOT / "orchestration" / ".venv" / "bin"
PLUGINS = ["tap-exchange-contacts", "target-sell-contacts", "tap-sell", "target-exchange"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """CPU seconds of the whole finished process tree, wall seconds, and the result."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr[-3000:]}")
    return cpu, wall, proc


def before_cycle(env: dict[str, str], empty_pycache: Path | None) -> tuple[float, float, float]:
    """The plain `meltano run` in a fresh system dir (CPU, wall, own CPU); with
    ``empty_pycache`` no process finds any bytecode."""
    with tempfile.TemporaryDirectory() as sys_dir:
        for kind in ("extractors", "loaders"):
            (Path(sys_dir) / kind).symlink_to(ROOT / ".meltano" / kind)
        run_env = {
            **os.environ,
            **env,
            "MELTANO_SYS_DIR_ROOT": sys_dir,
            # Discovery on every run, as before the prod environment named committed catalogs.
            "TAP_EXCHANGE_CONTACTS__CATALOG": "",
            "TAP_SELL__CATALOG": "",
        }
        if empty_pycache:
            # No .pyc anywhere: Python compiles every import from source on every start.
            run_env |= {"PYTHONPYCACHEPREFIX": str(empty_pycache), "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [str(ROOT / ".venv/bin/meltano"), "--environment=prod", "run",
                "--state-id-suffix=quiet", f"--run-id={uuid.uuid4()}", *PLUGINS]  # fmt: skip
        cpu, wall, _ = timed(argv, run_env)
    return cpu, wall, cpu


def orchestrated_cycle(env: dict[str, str]) -> tuple[float, float, float]:
    """``contact-sync-stack cycle quiet``: (CPU incl. its own process, wall, meltano tree CPU)."""
    cpu, wall, proc = timed([str(ORCH_BIN / "contact-sync-stack"), "cycle", "quiet"], env)
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    if outcome["writes"]:
        raise RuntimeError(f"not a quiet cycle: {outcome}")
    return cpu, wall, outcome["cpu_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    with ExitStack() as stack:
        sell = stack.enter_context(
            running_sandbox("sell-sandbox", ["--token", TOKEN, "--seed", "20", "--rate-limit", "0"])
        )
        ews = stack.enter_context(
            running_sandbox("ews-sandbox", ["--mailbox", f"{MAILBOX}:{PASSWORD}", "--seed", "20"])
        )
        urls = {n: stack.enter_context(private_postgres_database(f"quiet_{n}"))
                for n in ("meltano", "ledger", "registry")}  # fmt: skip
        empty_pycache = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        orch_env = {
            **os.environ,
            "CONTACT_SYNC_REGISTRY_URL": urls["registry"],
            "CONTACT_SYNC_MELTANO_DATABASE_URI": urls["meltano"],
            "CONTACT_SYNC_LEDGER_URL": urls["ledger"],
            "QUIET_PASSWORD": PASSWORD,
            "QUIET_TOKEN": TOKEN,
        }
        subprocess.run(
            [str(ROOT / ".venv/bin/meltano"), "upgrade", "database"],
            cwd=ROOT, env={**os.environ, "MELTANO_DATABASE_URI": urls["meltano"]},
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(ORCH_BIN / "contact-sync-tenants"), "add", "quiet", "--mailbox", MAILBOX,
             "--exchange", f"service_endpoint={ews.base_url}/EWS/Exchange.asmx",
             "--exchange", "server_version=15.1.2507.6", "--categories", "Clients,Partners",
             "--sell", f"api_url={sell.base_url}", "--sell", "exchange_id_field=Exchange ID",
             "--secret", "exchange_password=env:QUIET_PASSWORD",
             "--secret", "sell_api_token=env:QUIET_TOKEN"],
            env=orch_env, check=True, capture_output=True,
        )  # fmt: skip
        for number in (1, 2):  # the initial sync, then the pass that absorbs its echoes
            cpu, wall, _ = orchestrated_cycle_any(orch_env)
            log(f"warm-up cycle {number}: {cpu:.1f} CPU-s, {wall:.1f} s")
        # The same tenant through the plain command: settings as Meltano variables.
        plain_env = {
            "MELTANO_DATABASE_URI": urls["meltano"],
            "CONTACT_SYNC_LEDGER_URL": urls["ledger"],
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        }
        for plugin in ("tap-exchange-contacts", "target-exchange"):
            prefix = env_prefix(plugin)
            plain_env |= {
                f"{prefix}_SERVICE_ENDPOINT": f"{ews.base_url}/EWS/Exchange.asmx",
                f"{prefix}_PRIMARY_SMTP_ADDRESS": MAILBOX,
                f"{prefix}_PASSWORD": PASSWORD,
                f"{prefix}_SERVER_VERSION": "15.1.2507.6",
            }
        plain_env["TAP_EXCHANGE_CONTACTS_CATEGORIES"] = '["Clients", "Partners"]'
        for plugin in ("tap-sell", "target-sell-contacts"):
            plain_env |= {f"{env_prefix(plugin)}_API_URL": sell.base_url,
                          f"{env_prefix(plugin)}_API_TOKEN": TOKEN}  # fmt: skip
        plain_env |= {"TARGET_SELL_CONTACTS_TENANT": "quiet", "TARGET_EXCHANGE_TENANT": "quiet",
                      "TARGET_SELL_CONTACTS_EXCHANGE_ID_FIELD": "Exchange ID"}  # fmt: skip
        results: dict[str, list[tuple[float, float, float]]] = {
            "before": [],
            "bytecode": [],
            "orchestrated": [],
        }
        for _ in range(args.cycles):  # interleaved, so load changes hit every variant alike
            results["before"].append(before_cycle(plain_env, empty_pycache))
            results["bytecode"].append(before_cycle(plain_env, None))
            results["orchestrated"].append(orchestrated_cycle(orch_env))
            log(", ".join(f"{k} {v[-1][0]:.2f} CPU-s" for k, v in results.items()))
        parts = breakdown(orch_env)
    base = statistics.median(c for c, _, _ in results["before"])
    rows = []
    for name, label in (
        ("before", "before: plain `meltano run`, fresh sys dir (discovery), no bytecode"),
        ("bytecode", "plain `meltano run`, fresh sys dir (discovery), with bytecode"),
        ("orchestrated", "orchestrated: `contact-sync-stack cycle` (lock, recovery, meltano)"),
    ):
        cpu = statistics.median(c for c, _, _ in results[name])
        tree = statistics.median(t for _, _, t in results[name])
        wall = statistics.median(w for _, w, _ in results[name])
        rows.append([label, f"{cpu:.2f}", f"{tree:.2f}", f"{wall:.2f}", f"{base / cpu:.2f}x"])
    print_table(
        f"Table 8 - a quiet two-way cycle of one tenant, median of {args.cycles}",
        [
            "variant",
            "CPU-s (all processes)",
            "CPU-s (meltano tree)",
            "wall s",
            "CPU ratio to before",
        ],
        rows,
    )
    print_table(
        "Table 8b - where a quiet orchestrated cycle's CPU goes, by program (one cycle,"
        " /proc sampled every 20 ms: a process's last 20 ms may be missed)",
        ["program", "CPU-s"],
        [[name, f"{cpu:.2f}"] for name, cpu in sorted(parts.items(), key=lambda kv: -kv[1])],
    )


def _proc_cpu() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, own CPU-s, program) of every process, from /proc."""
    ticks, out = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        program = next((Path(a.decode()).name for a in argv[1:2] if a), "?")
        out[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / ticks,
            program,
        )
    return out


def breakdown(env: dict[str, str]) -> dict[str, float]:
    """CPU-s by program of one quiet orchestrated cycle, by polling /proc every 20 ms."""
    proc = subprocess.Popen(
        [str(ORCH_BIN / "contact-sync-stack"), "cycle", "quiet"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen: dict[int, tuple[float, str]] = {}
    while proc.poll() is None:
        table = _proc_cpu()
        tree, todo = {proc.pid}, [proc.pid]
        while todo:
            parent = todo.pop()
            kids = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
            tree.update(kids)
            todo += kids
        for pid in tree & set(table):
            # A process that exited (a zombie until reaped) keeps its CPU but not its cmdline.
            name = table[pid][2] if table[pid][2] != "?" else seen.get(pid, (0.0, "?"))[1]
            seen[pid] = (table[pid][1], name)
        time.sleep(0.02)
    totals: dict[str, float] = {}
    for cpu, program in seen.values():
        totals[program] = totals.get(program, 0.0) + cpu
    return totals


def orchestrated_cycle_any(env: dict[str, str]) -> tuple[float, float, float]:
    """A cycle that may write (the warm-up ones)."""
    cpu, wall, proc = timed([str(ORCH_BIN / "contact-sync-stack"), "cycle", "quiet"], env)
    return cpu, wall, json.loads(proc.stdout.strip().splitlines()[-1])["cpu_seconds"]


if __name__ == "__main__":
    main()
