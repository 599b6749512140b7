"""Many tenants through Dagster and Celery (issue 15 acceptance, SPEC S15).

One stack for the module (``contact-sync-stack serve``: the Dagster daemon and 2 Celery workers
from ``orchestration/.venv``), PostgreSQL for Dagster, Meltano's system DB, the ledger and the
registry, Redis as the broker, a sell-sandbox and an ews-sandbox with one token / mailbox per
tenant. Tenants are registered with the real CLI; the test watches Dagster's run table and the
sandboxes, and changes the registry between ticks, as an operator would.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from contact_mapping.testing_db import postgres_unreachable, private_postgres_database
from exchange_mailbox.ews.connection import connect, disconnect
from sandbox_common.process import SandboxProcess, running_sandbox
from sell_sandbox import tenant_key
from sell_sandbox.client import SellSandboxClient

from demo.agreement import disagreements
from tests.conftest import PASSWORD, ROOT, make_token
from tests.reliability.end_state import EndState, end_state, exchange_config

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.xdist_group("orchestration"),
    pytest.mark.timeout(1200),
]

ORCH_BIN = ROOT / "orchestration" / ".venv" / "bin"
INTERVAL = 40  # seconds between sensor ticks (900 in production)
FIRST = [f"t{i}" for i in range(1, 9)]  # the 8 tenants of the first tick
LATER = ("late", "badpw", "kill", "cancel", "flaky")  # added by the tests as they go
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _redis_unreachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return None
    except OSError as exc:
        return f"Redis not reachable at 127.0.0.1:6379: {exc}"


@dataclass
class Stack:
    """The running stack and what the test needs to drive and observe it."""

    env: dict[str, str]
    sell: SandboxProcess
    ews: SandboxProcess
    urls: dict[str, str]
    serve: subprocess.Popen
    home: Path
    tenants: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (token, mailbox)

    def tenants_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ORCH_BIN / "contact-sync-tenants"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
        )

    def add(
        self,
        tenant_id: str,
        *,
        password_ref: str = "env:ORCH_TEST_PASSWORD",  # noqa: S107
        sell_url: str | None = None,
    ) -> None:
        token, mailbox = make_token(f"orch {tenant_id}"), f"sync@{tenant_id}.example"
        self.tenants[tenant_id] = (token, mailbox)
        self.env[f"ORCH_TEST_TOKEN_{tenant_id.upper()}"] = token
        self.tenants_cli(
            "add", tenant_id, "--mailbox", mailbox,
            "--exchange", f"service_endpoint={self.ews.base_url}/EWS/Exchange.asmx",
            "--exchange", "server_version=15.1.2507.6",
            "--categories", "Clients,Partners",
            "--sell", f"api_url={sell_url or self.sell.base_url}",
            "--sell", "exchange_id_field=Exchange ID",
            "--secret", f"exchange_password={password_ref}",
            "--secret", f"sell_api_token=env:ORCH_TEST_TOKEN_{tenant_id.upper()}",
        )  # fmt: skip

    def runs(self) -> list[dict]:
        """Dagster's runs of the tenant job, read from its run storage."""
        engine = sa.create_engine(self.urls["dagster"])
        try:
            with engine.connect() as db:
                if not sa.inspect(db).has_table("run_tags"):
                    return []  # the daemon has not created Dagster's tables yet
                rows = db.execute(
                    sa.text(
                        "SELECT r.run_id, r.status, t.value AS tenant, r.create_timestamp,"
                        " r.start_time, r.end_time FROM runs r JOIN run_tags t"
                        " ON t.run_id = r.run_id AND t.key = 'contact_sync/tenant'"
                    )
                ).all()
        finally:
            engine.dispose()
        return [dict(r._mapping) for r in rows]

    def events(self, run_id: str) -> list[dict]:
        """A run's step events from Dagster's event log: type, time and the event's own data."""
        engine = sa.create_engine(self.urls["dagster"])
        try:
            with engine.connect() as db:
                rows = db.execute(
                    sa.text(
                        "SELECT dagster_event_type AS type, timestamp, event FROM event_logs"
                        " WHERE run_id = :r AND dagster_event_type LIKE 'STEP_%' ORDER BY id"
                    ),
                    {"r": run_id},
                ).all()
        finally:
            engine.dispose()
        return [
            {"type": r.type, "at": r.timestamp.timestamp(), "data": _event_data(r.event)}
            for r in rows
        ]

    def wait(self, what: str, done: Callable[[], bool], timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.serve.poll() is not None:
                pytest.fail(f"the stack exited while waiting for {what}: {self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}: {self.runs()}\n{self.log_tail()}")
            time.sleep(2)

    def log_tail(self) -> str:
        logs = sorted((self.home / "process-logs").glob("*.log"))
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
            for p in logs
        )

    def settled(self) -> bool:
        return all(r["status"] in TERMINAL for r in self.runs())

    def succeeded_since(self, tenant_id: str, since: float) -> bool:
        return any(
            r["tenant"] == tenant_id and r["status"] == "SUCCESS" and r["start_time"] > since
            for r in self.runs()
        )

    def attempt(self, tenant_id: str) -> dict | None:
        """The tenant's latest attempt row (run_guard): its run id and process group."""
        engine = sa.create_engine(self.urls["registry"])
        try:
            with engine.connect() as db:
                row = db.execute(
                    sa.text("SELECT * FROM contact_sync_attempts WHERE tenant_id = :t"),
                    {"t": tenant_id},
                ).first()
        finally:
            engine.dispose()
        return dict(row._mapping) if row else None

    def mid_run(self, tenant_id: str, timeout: float = 300) -> dict:
        """The running attempt as soon as its target has written to Sell (mid-run)."""
        key, deadline = tenant_key(self.tenants[tenant_id][0]), time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = self.sell.stats()["by_tenant"].get(key, {})
            if mine.get("total_writes", 0) > 0:
                attempt = self.attempt(tenant_id)
                if attempt and attempt["finished_at"] is None and attempt["pgid"]:
                    return attempt
                pytest.fail(f"{tenant_id} wrote but no attempt is running: {attempt}")
            time.sleep(0.2)
        pytest.fail(f"{tenant_id} never started writing: {self.runs()}\n{self.log_tail()}")

    def stack_cli(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(ORCH_BIN / "contact-sync-stack"), *args],
            env={**self.env, "DAGSTER_HOME": str(self.home)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    def registry_row(self, tenant_id: str) -> dict:
        return json.loads(self.tenants_cli("show", tenant_id).stdout)


def _event_data(serialized: str) -> dict:
    """The event-specific data of a serialized Dagster event (e.g. a retry's seconds_to_wait)."""
    event = json.loads(serialized).get("dagster_event") or {}
    return event.get("event_specific_data") or {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    for reason in (postgres_unreachable(), _redis_unreachable()):
        if reason:
            pytest.skip(reason)
    if not (ORCH_BIN / "contact-sync-stack").exists():
        pytest.skip("orchestration/.venv is missing: run `make setup`")
    home = tmp_path_factory.mktemp("dagster-home")
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(private_postgres_database(f"orch_{name}"))
            for name in ("dagster", "meltano", "ledger", "registry")
        }
        tokens = [make_token(f"orch {t}") for t in (*FIRST, *LATER)]
        mailboxes = [f"sync@{t}.example" for t in (*FIRST, *LATER)]
        sell = stack.enter_context(
            running_sandbox(
                "sell-sandbox",
                ["--rate-limit", "0", "--seed", "12", *[a for t in tokens for a in ("--token", t)]],
            )
        )
        ews = stack.enter_context(
            running_sandbox(
                "ews-sandbox",
                ["--seed", "12", *[a for m in mailboxes for a in ("--mailbox", f"{m}:{PASSWORD}")]],
            )
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(home)),
            "CONTACT_SYNC_DAGSTER_PG_URL": urls["dagster"],
            "CONTACT_SYNC_REGISTRY_URL": urls["registry"],
            "CONTACT_SYNC_MELTANO_DATABASE_URI": urls["meltano"],
            "CONTACT_SYNC_LEDGER_URL": urls["ledger"],
            "CONTACT_SYNC_CELERY_QUEUE": f"contact-sync-test-{uuid.uuid4().hex[:8]}",
            "CONTACT_SYNC_INTERVAL_SECONDS": str(INTERVAL),
            "CONTACT_SYNC_WATCH_SECONDS": "5",
            "CONTACT_SYNC_RETRY_DELAY_SECONDS": "2",
            "ORCH_TEST_PASSWORD": PASSWORD,
            "ORCH_TEST_WRONG_PASSWORD": "not-the-password",
        }
        # Migrate Meltano's system DB once, before any run fans out.
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "meltano"), "upgrade", "database"],
            cwd=ROOT,
            env={**os.environ, "MELTANO_DATABASE_URI": urls["meltano"]},
            check=True,
            capture_output=True,
        )
        registry_env = dict(env)
        result = Stack(env=registry_env, sell=sell, ews=ews, urls=urls, serve=None, home=home)  # type: ignore[arg-type]
        for tenant_id in FIRST:
            result.add(tenant_id)
        result.add("badpw", password_ref="env:ORCH_TEST_WRONG_PASSWORD")
        serve = subprocess.Popen(
            [str(ORCH_BIN / "contact-sync-stack"), "serve", "--home", str(home), "--no-webserver",
             "--workers", "2", "--concurrency", "1"],
            env={**result.env,
                 **{f"ORCH_TEST_TOKEN_{t.upper()}": make_token(f"orch {t}") for t in LATER}},
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        result.serve = serve
        try:
            assert serve.stdout is not None
            assert serve.stdout.readline().startswith("ready"), result.log_tail()
            yield result
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=90)
            except subprocess.TimeoutExpired:
                serve.kill()


def _overlaps(runs: list[dict]) -> list[str]:
    """Runs of one tenant whose [start, end] intervals overlap (S15.2)."""
    problems = []
    by_tenant: dict[str, list[tuple[float, float, str]]] = {}
    for r in runs:
        if r["start_time"] is None:
            continue
        by_tenant.setdefault(r["tenant"], []).append(
            (r["start_time"], r["end_time"] or time.time(), r["run_id"])
        )
    for tenant_id, spans in by_tenant.items():
        spans.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                problems.append(f"{tenant_id}: {second} started before {first} ended")
    return problems


def agreement_problems(
    stack: Stack, tenant_id: str, sell: SandboxProcess | None = None
) -> list[str]:
    """S7.3, as the demo checks it: every linked pair holds equal values on both sides."""
    token, mailbox = stack.tenants[tenant_id]
    account = connect({**exchange_config(stack.ews, mailbox), "retry_max_wait": 120})
    try:
        return disagreements(SellSandboxClient((sell or stack.sell).base_url, token), account)
    finally:
        disconnect(account)


def _sell_emails(stack: Stack, tenant_id: str) -> set[str]:
    token = stack.tenants[tenant_id][0]
    contacts = SellSandboxClient(stack.sell.base_url, token).all("contacts")
    return {(c.get("email") or "").lower() for c in contacts} - {""}


@pytest.mark.spec("S15.1", "S15.2", "S15.3", "S7.3", "S10.3")
def test_tenants_tick_converge_and_stay_apart(stack: Stack):
    # Tick 1: the 8 tenants sync; the one with a wrong password needs attention, once.
    stack.wait(
        "the first tick", lambda: all(stack.succeeded_since(t, 0) for t in FIRST), timeout=900
    )
    stack.wait("the wrong password's run", lambda: stack.registry_row("badpw")["attention"])
    attention = stack.registry_row("badpw")["attention"]
    assert "rejected the credentials" in attention
    assert "password" in attention
    assert "not-the-password" not in attention

    # Between ticks: one tenant added, one removed, one paused.
    changed_at = time.time()
    stack.add("late")
    stack.tenants_cli("remove", "t8")
    stack.tenants_cli("pause", "t7")
    second = [*FIRST[:6], "late"]
    stack.wait("the second tick", lambda: all(stack.succeeded_since(t, changed_at) for t in second))

    # A quiet third round: nothing to write anywhere, and both sides agree (S7.1, S7.3). Ticks
    # come faster than 2 cores finish a round here, so pause everyone to get a clean start.
    for tenant_id in second:
        stack.tenants_cli("pause", tenant_id)
    stack.wait("no run in progress", stack.settled)
    stack.sell.reset()
    stack.ews.reset()
    quiet_from = time.time()
    for tenant_id in FIRST[:6]:
        stack.tenants_cli("resume", tenant_id)
    stack.wait(
        "the third round", lambda: all(stack.succeeded_since(t, quiet_from) for t in FIRST[:6])
    )
    for tenant_id in FIRST[:6]:  # the kill and cancel tests below run alone
        stack.tenants_cli("pause", tenant_id)

    runs = stack.runs()
    assert not _overlaps(runs)
    # A run the sensor requested while the change was being made may still start, but it
    # finds the tenant paused or gone and runs nothing: no attempt (meltano run) after it.
    assert stack.attempt("t8") is None, "the removed tenant ran again"
    assert stack.attempt("t7")["started_at"].timestamp() < changed_at, "the paused tenant ran"
    # S10.3 is not retried in a loop: one run, its op tried once (no RetryPolicy retry either).
    badpw = [r for r in runs if r["tenant"] == "badpw"]
    assert [r["status"] for r in badpw] == ["FAILURE"]
    steps = [e["type"] for e in stack.events(badpw[0]["run_id"])]
    assert steps.count("STEP_START") == 1, steps
    assert "STEP_UP_FOR_RETRY" not in steps, steps

    sell_stats, ews_stats = stack.sell.stats()["by_tenant"], stack.ews.stats()["by_tenant"]
    # S15.3: in the quiet round, requests came under the six running tenants' own token and
    # mailbox only, and each of them read its own account and mailbox.
    active = [stack.tenants[t] for t in FIRST[:6]]
    assert set(sell_stats) == {tenant_key(token) for token, _ in active}
    assert set(ews_stats) == {mailbox for _, mailbox in active}
    for tenant_id in FIRST[:6]:
        token, mailbox = stack.tenants[tenant_id]
        quiet_sell = sell_stats.get(tenant_key(token), {}).get("total_writes", 0)
        quiet_ews = ews_stats.get(mailbox, {}).get("total_writes", 0)
        assert (quiet_sell, quiet_ews) == (0, 0), f"{tenant_id} wrote in the quiet round"
        state = end_state(stack.sell, stack.ews, token, mailbox)
        assert not state.duplicates(), tenant_id
        assert not agreement_problems(stack, tenant_id), tenant_id
        # S15.3: this tenant's Sell account holds contacts of its own mailbox only.
        foreign = {
            e for e in _sell_emails(stack, tenant_id)
            if any(e.endswith(f"@{o}.example") for o in stack.tenants if o != tenant_id)
        }  # fmt: skip
        assert not foreign, (tenant_id, foreign)
    # Each run carries both run reports as metadata (what the UI shows per tenant).
    dagster_runs = [json.loads(line) for line in stack.stack_cli("runs").stdout.splitlines()]
    # A tick skips a tenant whose run is queued or going: no run is even created before the
    # tenant's previous one ended (a retry is created after its failure).
    queued_twice = []
    for tenant_id in {r["tenant"] for r in dagster_runs}:
        mine = sorted((r for r in dagster_runs if r["tenant"] == tenant_id),
                      key=lambda r: r["create_time"])  # fmt: skip
        queued_twice += [
            (tenant_id, later["run_id"])
            for earlier, later in itertools.pairwise(mine)
            if earlier["end_time"] is None or later["create_time"] < earlier["end_time"]
        ]
    assert not queued_twice
    t1 = sorted((r for r in dagster_runs if r["tenant"] == "t1" and r["metadata"]),
                key=lambda r: r["start_time"])  # fmt: skip
    assert t1[0]["metadata"]["exchange_to_sell/created"] > 0, t1[0]["metadata"]
    assert t1[0]["metadata"]["sell_to_exchange/created"] > 0, t1[0]["metadata"]
    for key in ("exchange_to_sell/conflicts", "sell_to_exchange/rejected", "meltano CPU seconds"):
        assert key in t1[-1]["metadata"]
    # Paused and removed tenants were not touched by the quiet round either.
    for tenant_id in ("t7", "t8"):
        token, mailbox = stack.tenants[tenant_id]
        assert tenant_key(token) not in sell_stats
        assert mailbox not in ews_stats
    engine = sa.create_engine(stack.urls["ledger"])
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT tenant, exchange_id, sell_id FROM links")).all()
    finally:
        engine.dispose()
    pairs = {}
    for tenant_id, exchange_id, sell_id in rows:
        pairs.setdefault(tenant_id, set()).add((exchange_id, sell_id))
    assert set(pairs) >= {*FIRST, "late"}
    assert sum(len(p) for p in pairs.values()) == len(set().union(*pairs.values()))


def _in_scope_unlinked(state: EndState) -> list[str]:
    """Exchange contacts in the synced categories that no Sell record is linked to (lost)."""
    return [
        r.id[-12:]
        for r in state.exchange
        if {"Clients", "Partners"} & set(r.categories) and not r.sell_link
    ]


@pytest.mark.spec("S15.2", "S7.2")
def test_a_worker_killed_mid_run_is_retried_at_once(stack: Stack):
    """SIGKILL of the Celery process running a tenant: retried at once, no 5-minute lock-out
    (Meltano's job is left "running"), no second run while the first's processes live."""
    stack.add("kill")
    attempt = stack.mid_run("kill")
    worker_process = int(
        Path(f"/proc/{attempt['pgid']}/stat").read_text().rsplit(")", 1)[1].split()[1]
    )
    killed_at = time.time()
    os.kill(worker_process, signal.SIGKILL)
    stack.wait("the retry", lambda: stack.succeeded_since("kill", killed_at), timeout=240)
    retry = min(
        (r for r in stack.runs() if r["tenant"] == "kill" and r["start_time"] > killed_at),
        key=lambda r: r["start_time"],
    )
    assert retry["start_time"] - killed_at < 120, "the tenant waited for a lock-out"
    assert not _alive(attempt["pgid"])
    assert not _overlaps(stack.runs())
    token, mailbox = stack.tenants["kill"]
    state = end_state(stack.sell, stack.ews, token, mailbox)
    assert not state.duplicates()
    assert not _in_scope_unlinked(state)
    assert not agreement_problems(stack, "kill")


@pytest.mark.spec("S15.2", "S7.2")
def test_a_cancelled_run_stops_its_processes_and_the_tenant_runs_again(stack: Stack):
    """A cancel from the UI (the Celery task revoked with SIGTERM): meltano and its plugins are
    stopped, and the tenant's next tick runs without Meltano's 5-minute refusal."""
    stack.add("cancel")
    attempt = stack.mid_run("cancel")
    cancelled_at = time.time()
    stack.stack_cli("cancel", attempt["run_id"])
    stack.wait("its processes gone", lambda: not _alive(attempt["pgid"]), timeout=90)
    stack.wait("the next run", lambda: stack.succeeded_since("cancel", cancelled_at), timeout=240)
    assert not _overlaps(stack.runs())
    token, mailbox = stack.tenants["cancel"]
    state = end_state(stack.sell, stack.ews, token, mailbox)
    assert not state.duplicates()
    assert not _in_scope_unlinked(state)
    assert not agreement_problems(stack, "cancel")


@pytest.mark.spec("S15.2", "S10.2", "S7.3")
def test_a_transient_failure_is_retried_with_back_off_and_converges(stack: Stack):
    """The tenant's Sell is down when its run starts (connection refused): the attempt fails as
    transient, the op's RetryPolicy waits its back-off and tries again in the same run, Sell is
    back by then, and that retry converges. The tenant is not marked as needing attention."""
    port = _free_port()
    stack.add("flaky", sell_url=f"http://127.0.0.1:{port}")
    token, mailbox = stack.tenants["flaky"]

    def up_for_retry() -> dict | None:
        for run in stack.runs():
            if run["tenant"] == "flaky":
                for event in stack.events(run["run_id"]):
                    if event["type"] == "STEP_UP_FOR_RETRY":
                        return run
        return None

    stack.wait("the first attempt's transient failure", lambda: up_for_retry() is not None)
    run = up_for_retry()
    assert run is not None
    with running_sandbox(
        "sell-sandbox", ["--port", str(port), "--rate-limit", "0", "--seed", "12", "--token", token]
    ) as sell:
        stack.wait("the retry", lambda: stack.succeeded_since("flaky", 0), timeout=300)
        [done] = [r for r in stack.runs() if r["tenant"] == "flaky" and r["status"] == "SUCCESS"]
        assert done["run_id"] == run["run_id"], "converged by the op's retry, not a later tick"
        events = stack.events(run["run_id"])
        kinds = [e["type"] for e in events]
        assert kinds.count("STEP_START") == 1, kinds
        assert "STEP_RESTARTED" in kinds, kinds
        assert kinds[-1] == "STEP_SUCCESS", kinds
        # Back-off: each retry waited the delay its RetryPolicy asked for (jittered, not zero).
        for waited, restarted in zip(
            (e for e in events if e["type"] == "STEP_UP_FOR_RETRY"),
            (e for e in events if e["type"] == "STEP_RESTARTED"),
            strict=True,
        ):
            seconds = waited["data"].get("seconds_to_wait")
            assert seconds, waited["data"]
            assert seconds > 0, waited["data"]
            assert restarted["at"] - waited["at"] >= seconds - 0.5
        assert stack.registry_row("flaky")["attention"] is None
        state = end_state(sell, stack.ews, token, mailbox)
        assert not state.duplicates()
        assert not _in_scope_unlinked(state)
        assert not agreement_problems(stack, "flaky", sell)
        stack.tenants_cli("pause", "flaky")  # its Sell goes away with this block
