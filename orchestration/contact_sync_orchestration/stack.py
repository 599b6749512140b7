"""`contact-sync-stack`: bring the many-tenant stack up on one machine.

- ``serve``: the Dagster daemon, the webserver (optional) and N Celery workers, sharing one
  ``DAGSTER_HOME``; prints ``ready <UI address>`` and runs until SIGINT/SIGTERM. The tests and
  the benchmarks start it; a real deployment runs the same three commands as services.
- ``up``: what ``make orchestrate`` runs: the PostgreSQL databases, Meltano's system DB migrated
  once (before any run fans out), a sell-sandbox with N tokens and an ews-sandbox with N
  mailboxes, N sandbox tenants registered (secrets by env-var reference), then ``serve``.
- ``runs``: Dagster's runs of the tenant job as JSON lines (status, tenant, times).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa

from contact_sync_orchestration import tenant_cycle
from contact_sync_orchestration.meltano_run import psycopg_url

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # orchestration/
ROOT = PACKAGE_DIR.parent
BIN = Path(sys.executable).parent
DATABASES = ("dagster", "meltano", "ledger", "registry")
SANDBOX_PASSWORD = "orchestrate-mailbox-password"  # noqa: S105 - sandbox mailboxes' made-up password


def _write_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "process-logs").mkdir(exist_ok=True)
    for name in ("dagster.yaml", "workspace.yaml"):
        shutil.copyfile(PACKAGE_DIR / name, home / name)


def _psycopg2_url(url: str) -> str:
    """Dagster's storage drives PostgreSQL with psycopg2 (SQLAlchemy 2.1's default is psycopg 3)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.split("+")[0] in {"postgresql", "postgres"}:
        return f"postgresql+psycopg2://{rest}"
    return url


def _with_defaults(env: dict[str, str]) -> dict[str, str]:
    """The variables dagster.yaml reads, with this machine's defaults (Redis on loopback)."""
    env = dict(env)
    if env.get("CONTACT_SYNC_DAGSTER_PG_URL"):
        env["CONTACT_SYNC_DAGSTER_PG_URL"] = _psycopg2_url(env["CONTACT_SYNC_DAGSTER_PG_URL"])
    env.setdefault("CONTACT_SYNC_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    env.setdefault("CONTACT_SYNC_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
    env.setdefault("CONTACT_SYNC_CELERY_QUEUE", "dagster")
    return env


def _stack_env(home: Path, base: dict[str, str]) -> dict[str, str]:
    env = _with_defaults({**base, "DAGSTER_HOME": str(home)})
    missing = [
        name
        for name in (
            "CONTACT_SYNC_DAGSTER_PG_URL",
            "CONTACT_SYNC_REGISTRY_URL",
            "CONTACT_SYNC_MELTANO_DATABASE_URI",
            "CONTACT_SYNC_LEDGER_URL",
        )
        if not env.get(name)
    ]
    if missing:
        sys.exit(f"set {', '.join(missing)}")
    return env


def _start(name: str, argv: list[str], env: dict[str, str], home: Path) -> subprocess.Popen:
    log = (home / "process-logs" / f"{name}.log").open("ab")
    return subprocess.Popen(
        argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@contextmanager
def serving(
    home: Path, *, workers: int, concurrency: int, port: int | None, env: dict[str, str]
) -> Iterator[tuple[str | None, list[subprocess.Popen]]]:
    """Daemon, workers (and webserver when ``port``) started; stopped when the block ends."""
    _write_home(home)
    env = _stack_env(home, env)
    workspace = str(home / "workspace.yaml")
    procs: list[subprocess.Popen] = []
    try:
        for index in range(1, workers + 1):
            procs.append(
                _start(
                    f"worker{index}",
                    [
                        str(BIN / "celery"),
                        "-A",
                        "contact_sync_orchestration.celery_app",
                        "worker",
                        "-Q",
                        env["CONTACT_SYNC_CELERY_QUEUE"],
                        "-c",
                        str(concurrency),
                        "-n",
                        f"contact-sync-{index}-{os.getpid()}@%h",
                        "--loglevel",
                        "INFO",
                    ],
                    env,
                    home,
                )
            )
        procs.append(
            _start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env, home)
        )
        url = None
        if port is not None:
            procs.append(
                _start(
                    "webserver",
                    [
                        str(BIN / "dagster-webserver"),
                        "-w",
                        workspace,
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                    ],
                    env,
                    home,
                )
            )
            url = f"http://127.0.0.1:{port}"
            _wait_http(f"{url}/server_info", 180)
        yield url, procs
    finally:
        _stop_all(procs)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_signal() -> None:
    """Until SIGINT or SIGTERM (both raise KeyboardInterrupt: every `with` block cleans up)."""
    with suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def serve(args: argparse.Namespace) -> None:
    home = Path(args.home).resolve()
    port = None if args.no_webserver else args.port
    with serving(
        home, workers=args.workers, concurrency=args.concurrency, port=port, env=dict(os.environ)
    ) as (url, _procs):
        print(f"ready {url or home}", flush=True)
        _wait_for_signal()


# ----------------------------------------------------------------------------------------- up


def _create_databases(server: str, prefix: str) -> dict[str, str]:
    """Fresh databases for a fresh pair of sandboxes: state, ledger links and runs of an earlier
    `make orchestrate` would point at records the new sandboxes never had."""
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    urls = {}
    try:
        with admin.connect() as db:
            for name in DATABASES:
                database = f"{prefix}_{name}"
                db.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                db.exec_driver_sql(f'CREATE DATABASE "{database}"')
                urls[name] = f"{server.replace('+psycopg2', '')}/{database}"
    finally:
        admin.dispose()
    return urls


def _sandbox(command: str, args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / command), "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and selector.select(deadline - time.monotonic()):
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ready "):
            return proc, line.split()[1].rstrip("/")
    proc.kill()
    raise RuntimeError(f"{command} did not start")


def sandbox_token(index: int) -> str:
    """The 64-character Sell token of sandbox tenant ``index`` (made up, deterministic)."""
    return hashlib.sha256(f"orchestrate tenant {index}".encode()).hexdigest()


def up(args: argparse.Namespace) -> None:
    urls = _create_databases(args.postgres, args.database_prefix)
    env = dict(os.environ)
    env |= {
        "CONTACT_SYNC_DAGSTER_PG_URL": urls["dagster"],
        "CONTACT_SYNC_REGISTRY_URL": urls["registry"],
        "CONTACT_SYNC_MELTANO_DATABASE_URI": urls["meltano"],
        "CONTACT_SYNC_LEDGER_URL": urls["ledger"],
        "CONTACT_SYNC_INTERVAL_SECONDS": str(args.interval),
    }
    # Meltano's system DB migrated once here, not by N first runs racing each other.
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meltano"), "upgrade", "database"],
        cwd=ROOT,
        env={**env, "MELTANO_DATABASE_URI": psycopg_url(urls["meltano"])},
        check=True,
        capture_output=True,
    )
    n = args.tenants
    mailboxes = [f"user{i}@tenant{i}.example" for i in range(1, n + 1)]
    with ExitStack() as stack:
        sell, sell_url = _sandbox(
            "sell-sandbox",
            [
                "--seed",
                str(args.seed),
                *[a for i in range(1, n + 1) for a in ("--token", sandbox_token(i))],
            ],
        )
        stack.callback(sell.terminate)
        ews, ews_url = _sandbox(
            "ews-sandbox",
            [
                "--seed",
                str(args.seed),
                *[a for m in mailboxes for a in ("--mailbox", f"{m}:{SANDBOX_PASSWORD}")],
            ],
        )
        stack.callback(ews.terminate)
        env["CONTACT_SYNC_SANDBOX_PASSWORD"] = SANDBOX_PASSWORD
        for i, mailbox in enumerate(mailboxes, start=1):
            env[f"CONTACT_SYNC_SANDBOX_TOKEN_{i}"] = sandbox_token(i)
            subprocess.run(
                [
                    str(BIN / "contact-sync-tenants"),
                    "--registry-url",
                    urls["registry"],
                    "add",
                    f"tenant{i}",
                    "--mailbox",
                    mailbox,
                    "--exchange",
                    f"service_endpoint={ews_url}/EWS/Exchange.asmx",
                    "--exchange",
                    "server_version=15.1.2507.6",
                    "--categories",
                    "Clients,Partners",
                    "--sell",
                    f"api_url={sell_url}",
                    "--sell",
                    "exchange_id_field=Exchange ID",
                    "--secret",
                    "exchange_password=env:CONTACT_SYNC_SANDBOX_PASSWORD",
                    "--secret",
                    f"sell_api_token=env:CONTACT_SYNC_SANDBOX_TOKEN_{i}",
                    "--replace",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        home = ROOT / ".orchestrate" / "dagster_home"
        with serving(
            home, workers=args.workers, concurrency=args.concurrency, port=args.port, env=env
        ) as (url, _):
            print(f"sell-sandbox {sell_url}  ews-sandbox {ews_url}  {n} tenants registered")
            print(f"registry: CONTACT_SYNC_REGISTRY_URL={urls['registry']}")
            print(f"logs: {home / 'process-logs'}")
            print(f"Dagster UI: {url}  (Ctrl-C stops everything)", flush=True)
            _wait_for_signal()


# --------------------------------------------------------------------------------------- runs


def runs(_args: argparse.Namespace) -> None:
    """Every run of the tenant job with its status, times and numeric metadata (one JSON line
    each): what the benchmarks and an operator's scripts read instead of the UI."""
    # Dagster takes ~2 s to import: only this command needs it.
    from dagster import DagsterEventType, DagsterInstance, RunsFilter  # noqa: PLC0415

    from contact_sync_orchestration.definitions import TENANT_TAG, tenant_sync  # noqa: PLC0415

    with DagsterInstance.get() as instance:
        for record in instance.get_run_records(RunsFilter(job_name=tenant_sync.name)):
            run = record.dagster_run
            metadata = {}
            for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_OUTPUT):
                for key, value in entry.dagster_event.event_specific_data.metadata.items():
                    if isinstance(value.value, int | float):
                        metadata[key] = value.value
            print(
                json.dumps(
                    {
                        "run_id": run.run_id,
                        "status": run.status.value,
                        "tenant": run.tags.get(TENANT_TAG),
                        "parent_run_id": run.parent_run_id,
                        "create_time": record.create_timestamp.timestamp(),
                        "start_time": record.start_time,
                        "end_time": record.end_time,
                        "metadata": metadata,
                    }
                )
            )


def cancel(args: argparse.Namespace) -> None:
    """What the UI's "Terminate" does: the launcher revokes the run's Celery task (SIGTERM)."""
    from dagster import DagsterInstance  # noqa: PLC0415 - slow import, this command only

    with DagsterInstance.get() as instance:
        if not instance.run_coordinator.cancel_run(args.run_id):
            sys.exit(f"run {args.run_id} could not be cancelled")
        print(f"cancelling {args.run_id}")


def cycle(args: argparse.Namespace) -> None:
    """One cycle of one tenant here and now, as a run does it (lock, recovery, meltano run)."""
    url = os.environ.get("CONTACT_SYNC_REGISTRY_URL")
    if not url:
        sys.exit("set CONTACT_SYNC_REGISTRY_URL")
    run_id = str(uuid.uuid4())
    outcome = tenant_cycle.run_cycle(
        url, args.tenant_id, run_id, run_id, log=lambda m: print(m, file=sys.stderr)
    )
    writes = sum(
        counts.get(key, 0)
        for report in outcome.reports.values()
        for counts in (report.get("streams") or {}).values()
        for key in ("created", "updated")
    )
    print(
        json.dumps(
            {
                "tenant": args.tenant_id,
                "skipped": outcome.skipped,
                "writes": writes,
                "cpu_seconds": outcome.cpu_seconds,
                "wall_seconds": outcome.wall_seconds,
            }
        )
    )


def main() -> None:
    top = argparse.ArgumentParser(prog="contact-sync-stack", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    for name in ("serve", "up"):
        sub = commands.add_parser(name)
        sub.add_argument("--workers", type=int, default=2)
        sub.add_argument("--concurrency", type=int, default=1, help="runs at once per worker")
        sub.add_argument("--port", type=int, default=3000, help="Dagster webserver port")
    serve_cmd = commands.choices["serve"]
    serve_cmd.add_argument("--home", required=True, help="DAGSTER_HOME to write and use")
    serve_cmd.add_argument("--no-webserver", action="store_true")
    up_cmd = commands.choices["up"]
    up_cmd.add_argument("--tenants", type=int, default=20)
    up_cmd.add_argument("--seed", type=int, default=20, help="contacts per sandbox tenant")
    up_cmd.add_argument("--interval", type=int, default=900, help="seconds between ticks")
    up_cmd.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432")
    up_cmd.add_argument("--database-prefix", default="contact_sync")
    commands.add_parser("runs")
    commands.add_parser("cancel").add_argument("run_id")
    commands.add_parser("cycle").add_argument("tenant_id")
    args = top.parse_args()
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    os.environ.update(_with_defaults(dict(os.environ)))
    {"serve": serve, "up": up, "runs": runs, "cancel": cancel, "cycle": cycle}[args.command](args)
