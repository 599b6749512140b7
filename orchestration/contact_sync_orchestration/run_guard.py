"""At most one run of a tenant at a time (S15.2), and an immediate, safe start after a crash.

Dagster's per-tenant concurrency limit keeps two *runs* of a tenant from being launched at once,
but a run's processes can outlive what Dagster knows: a worker killed with SIGKILL leaves its
`meltano` subprocess behind, and Meltano itself then refuses the tenant's next run for five
minutes (its job stays "running" until the heartbeat goes stale). So every attempt:

1. takes the tenant's lock, a PostgreSQL session-level advisory lock on the registry database;
   it is released by the server the moment the holder's connection dies, on any machine;
2. makes sure no process of the tenant's previous attempt is left: the attempt row records the
   host, boot and process group of each `meltano run`; leftovers on this host are killed and
   waited for (``meltano`` also gets SIGKILL from the kernel when its worker dies, and its
   plugins end with it: the tap on a broken pipe, the target at end of input);
3. marks the tenant's Meltano jobs that still say "running" as failed, which is true because
   nothing of the previous attempt runs any more; Meltano then runs the tenant without ``--force``
   and keeps its own guard for anyone running the tenant by hand;
4. runs `meltano` in a process group of its own, and on SIGTERM (a cancel) stops it gracefully,
   then kills the whole group and waits until it is empty before the lock is let go.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from contact_sync_orchestration.registry import attempts, engine_for

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 20.0  # after SIGTERM, how long meltano may take to stop its plugins


class TenantBusyError(Exception):
    """Another attempt of this tenant holds its lock (it is running somewhere)."""


class RunCancelledError(Exception):
    """The attempt was stopped by SIGTERM; its processes are gone."""


def lock_key(tenant_id: str) -> int:
    """A signed 64-bit advisory-lock key for a tenant id."""
    digest = hashlib.sha256(f"contact-sync tenant {tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@contextmanager
def tenant_lock(registry_url: str, tenant_id: str, *, wait_seconds: float = 30.0) -> Iterator[None]:
    """Hold the tenant's advisory lock for the block, or raise TenantBusyError after waiting."""
    engine = engine_for(registry_url)
    # TCP keepalives: a holder on a machine that vanished is noticed within about a minute.
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        key = lock_key(tenant_id)
        deadline = time.monotonic() + wait_seconds
        while not conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
            if time.monotonic() >= deadline:
                msg = f"tenant {tenant_id} is running elsewhere (its lock is held)"
                raise TenantBusyError(msg)
            time.sleep(1.0)
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
    finally:
        conn.close()
        engine.dispose()


def lock_held(registry_url: str, tenant_id: str) -> bool:
    """Whether some session holds the tenant's lock (a live attempt), as the server sees it."""
    key = lock_key(tenant_id)
    classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    engine = engine_for(registry_url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND classid = :c AND objid = :o AND objsubid = 1 AND granted"
                    ),
                    {"c": classid, "o": objid},
                ).scalar()
            )
    finally:
        engine.dispose()


def _group_members(pgid: int, not_before: float) -> list[int]:
    """Processes of group ``pgid`` started at or after ``not_before`` (epoch s): pid reuse safe."""
    try:
        btime = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return []
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3; Z = dead, awaiting its parent's wait), pgrp is
        # field 5 and starttime field 22.
        if (
            fields[0] != "Z"
            and int(fields[2]) == pgid
            and btime + int(fields[19]) / ticks >= not_before - 2
        ):
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, not_before: float, *, timeout: float = 60.0) -> int:
    """SIGKILL every process of the group started since ``not_before``; wait until none is left."""
    deadline = time.monotonic() + timeout
    killed = 0
    while members := _group_members(pgid, not_before):
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                continue
        if time.monotonic() > deadline:
            msg = f"processes {members} of group {pgid} survive SIGKILL"
            raise RuntimeError(msg)
        time.sleep(0.2)
    return killed


class Attempts:
    """The attempt rows: where each tenant's latest `meltano run` lives."""

    def __init__(self, registry_url: str) -> None:
        self.engine = engine_for(registry_url)

    def close(self) -> None:
        self.engine.dispose()

    def current(self, tenant_id: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(attempts.select().where(attempts.c.tenant_id == tenant_id)).first()

    def reap_previous(self, tenant_id: str, log: Callable[[str], None]) -> None:
        """Make sure nothing of the tenant's previous, unfinished attempt still runs."""
        row = self.current(tenant_id)
        if row is None or row.finished_at is not None or row.pgid is None:
            return
        if row.host != socket.gethostname() or row.boot_id != boot_id():
            # Its processes died with their worker (meltano gets SIGKILL from the kernel); the
            # lock we hold proves that worker's session is gone.
            log(f"previous attempt {row.run_id} ran on {row.host}; its lock was released")
            return
        started = row.started_at.replace(tzinfo=row.started_at.tzinfo or UTC).timestamp()
        killed = kill_group(row.pgid, started)
        log(f"previous attempt {row.run_id} left {killed} process(es); killed and gone")

    def start(self, tenant_id: str, run_id: str) -> datetime:
        started = datetime.now(UTC)
        values = {
            "run_id": run_id,
            "host": socket.gethostname(),
            "boot_id": boot_id(),
            "pgid": None,
            "started_at": started,
            "finished_at": None,
        }
        with self.engine.begin() as db:
            if (
                db.execute(
                    attempts.update().where(attempts.c.tenant_id == tenant_id).values(**values)
                ).rowcount
                == 0
            ):
                db.execute(attempts.insert().values(tenant_id=tenant_id, **values))
        return started

    def set_group(self, tenant_id: str, pgid: int) -> None:
        with self.engine.begin() as db:
            db.execute(attempts.update().where(attempts.c.tenant_id == tenant_id).values(pgid=pgid))

    def finish(self, tenant_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                attempts.update()
                .where(attempts.c.tenant_id == tenant_id)
                .values(finished_at=datetime.now(UTC))
            )


def fail_running_meltano_jobs(meltano_database_uri: str, state_ids: list[str]) -> int:
    """Mark the tenant's Meltano jobs still "running" as failed (only ever under its lock).

    Without this, Meltano refuses the tenant's next run for up to five minutes after a crash or a
    cancel ("Another ... pipeline is already running"). Same transition as Meltano's own
    ``fail_stale_jobs``, done at once because the lock proves that no process of them is left.
    """
    engine = engine_for(meltano_database_uri)
    try:
        with engine.begin() as db:
            if not sa.inspect(db).has_table("runs"):
                return 0
            return db.execute(
                sa.text(
                    "UPDATE runs SET state = 'FAIL', ended_at = :now"
                    " WHERE state = 'RUNNING' AND job_name IN :names"
                ).bindparams(sa.bindparam("names", expanding=True)),
                {"now": datetime.now(UTC).replace(tzinfo=None), "names": state_ids},
            ).rowcount
    finally:
        engine.dispose()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the worker that started us dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return


def run_process_group(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    on_group: Callable[[int], None],
    timeout: timedelta | None = None,
) -> int:
    """Run ``argv`` in a new process group; SIGTERM here stops it; returns its exit code.

    Returns only when every process of the group is gone, so the caller's lock is never let go
    while a plugin of this attempt still runs.
    """
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.time()
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
            on_group(proc.pid)
            deadline = time.monotonic() + timeout.total_seconds() if timeout else None
            while proc.poll() is None:
                if stop.wait(0.5) or (deadline and time.monotonic() > deadline):
                    _stop(proc)
                    break
            code = proc.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    kill_group(proc.pid, started)  # a plugin that outlived meltano (normally none)
    if stop.is_set():
        raise RunCancelledError("cancelled (SIGTERM): meltano and its plugins were stopped")
    return code


def _stop(proc: subprocess.Popen) -> None:
    """Graceful first (Meltano stops its plugins and fails its job), then the whole group."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    with_group = proc.pid
    try:
        os.killpg(with_group, signal.SIGKILL)
    except ProcessLookupError:
        return
