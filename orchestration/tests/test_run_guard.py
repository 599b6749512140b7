"""One run per tenant (S15.2): tenant lock, a dead attempt's leftovers, Meltano's stuck jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from contact_sync_orchestration import run_guard
from contact_sync_orchestration.registry import Registry, engine_for

pytestmark = pytest.mark.spec("S15.2")


def test_a_tenant_lock_excludes_a_second_holder_until_released(registry_url):
    Registry(registry_url).close()
    with run_guard.tenant_lock(registry_url, "acme"):
        assert run_guard.lock_held(registry_url, "acme")
        assert not run_guard.lock_held(registry_url, "globex")
        with (
            pytest.raises(run_guard.TenantBusyError),
            run_guard.tenant_lock(registry_url, "acme", wait_seconds=0),
        ):
            pass
        with run_guard.tenant_lock(registry_url, "globex", wait_seconds=0):
            pass
    assert not run_guard.lock_held(registry_url, "acme")


def test_a_dead_holders_lock_is_free_at_once(registry_url, tmp_path):
    """A worker killed with SIGKILL: the server drops its session, and the lock with it."""
    script = (
        "import sys, time\n"
        "from contact_sync_orchestration import run_guard\n"
        "with run_guard.tenant_lock(sys.argv[1], 'acme'):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, registry_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_guard.lock_held(registry_url, "acme")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + 10
        while run_guard.lock_held(registry_url, "acme") and time.monotonic() < deadline:
            time.sleep(0.1)
        with run_guard.tenant_lock(registry_url, "acme", wait_seconds=0):
            pass
    finally:
        holder.kill()


def test_leftovers_of_an_unfinished_attempt_on_this_host_are_killed(registry_url):
    Registry(registry_url).close()
    attempts = run_guard.Attempts(registry_url)
    try:
        attempts.start("acme", "run-1")
        group = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300"], start_new_session=True)
        attempts.set_group("acme", group.pid)
        time.sleep(0.3)
        assert len(run_guard._group_members(group.pid, time.time() - 60)) >= 2
        notes: list[str] = []
        attempts.reap_previous("acme", notes.append)
        group.wait(timeout=5)
        assert run_guard._group_members(group.pid, 0) == []
        assert "killed and gone" in notes[0]
        attempts.finish("acme")
        attempts.reap_previous("acme", notes.append)  # a finished attempt needs nothing
        assert len(notes) == 1
    finally:
        attempts.close()


def test_stuck_meltano_jobs_of_this_tenant_only_are_failed(registry_url):
    """The transition Meltano's fail_stale_jobs makes after 5 minutes, done at once."""
    engine = engine_for(registry_url)
    with engine.begin() as db:  # the columns of Meltano 4.4's `runs` table that matter here
        db.exec_driver_sql(
            "CREATE TABLE runs (id serial, job_name varchar, state varchar, ended_at timestamp)"
        )
        db.exec_driver_sql(
            "INSERT INTO runs (job_name, state) VALUES"
            " ('prod:tap-sell-to-target-exchange:acme', 'RUNNING'),"
            " ('prod:tap-sell-to-target-exchange:acme', 'SUCCESS'),"
            " ('prod:tap-sell-to-target-exchange:globex', 'RUNNING')"
        )
    ids = [
        "prod:tap-exchange-contacts-to-target-sell-contacts:acme",
        "prod:tap-sell-to-target-exchange:acme",
    ]
    assert run_guard.fail_running_meltano_jobs(registry_url, ids) == 1
    with engine.connect() as db:
        rows = db.execute(sa.text("SELECT job_name, state FROM runs ORDER BY id")).all()
    engine.dispose()
    assert [r.state for r in rows] == ["FAIL", "SUCCESS", "RUNNING"]


def test_sigterm_stops_the_whole_group_before_returning(tmp_path):
    """A cancel: the group gets SIGTERM, then SIGKILL; nothing of it is left when we return."""
    groups: list[int] = []
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    run_guard.GRACE_SECONDS = 1.0
    with pytest.raises(run_guard.RunCancelledError):
        run_guard.run_process_group(
            ["sh", "-c", "trap '' TERM; sleep 300 & sleep 300"],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
            log_path=Path(tmp_path / "log"),
            on_group=groups.append,
        )
    assert run_guard._group_members(groups[0], 0) == []
