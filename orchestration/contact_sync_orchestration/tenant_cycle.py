"""One two-way cycle of one tenant, as every run does it: lock, recovery, `meltano run`, reports.

The Dagster op (``definitions.sync_tenant``) and ``contact-sync-stack cycle`` (an operator's
"run this tenant now, here", and the quiet-cycle benchmark) both call ``run_cycle``; neither
imports the other, and this module does not import Dagster.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from contact_sync_orchestration import meltano_run, run_guard
from contact_sync_orchestration.registry import Registry, RegistryError, Tenant


class NeedsAttentionError(Exception):
    """Bad configuration (S10.3): the tenant was marked in the registry; do not retry."""


class MeltanoRunError(Exception):
    """`meltano run` failed for another reason (transient: retry with back-off)."""

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(message)
        self.log_tail = log_tail


@dataclass
class Outcome:
    """What a cycle did: skipped (and why), or the reports and the cost of the meltano run."""

    skipped: str | None = None
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # the meltano process tree: Meltano and the four plugins


def run_cycle(
    registry_url: str,
    tenant_id: str,
    run_id: str,
    meltano_run_id: str,
    *,
    log: Callable[[str], None],
    timeout: timedelta | None = None,
) -> Outcome:
    """Run the tenant once; raises NeedsAttentionError, MeltanoRunError, RunCancelledError."""
    registry = Registry(registry_url)
    try:
        tenant = registry.get(tenant_id)
    except RegistryError:
        return Outcome(skipped=f"tenant {tenant_id} was removed")
    finally:
        registry.close()
    if tenant.paused or tenant.attention:
        return Outcome(skipped=f"tenant {tenant_id} is paused or needs attention")
    try:
        deployment = meltano_run.Deployment.from_env()
    except meltano_run.ConfigurationError as exc:
        raise NeedsAttentionError(str(exc)) from None

    with (
        run_guard.tenant_lock(registry_url, tenant_id),
        tempfile.TemporaryDirectory(prefix=f"contact-sync-{tenant_id}-") as work,
    ):
        attempts = run_guard.Attempts(registry_url)
        try:
            attempts.reap_previous(tenant_id, log)
            failed = run_guard.fail_running_meltano_jobs(
                deployment.meltano_database_uri, meltano_run.state_ids(tenant_id)
            )
            if failed:
                log(f"marked {failed} Meltano job(s) of the previous attempt as failed")
            attempts.start(tenant_id, run_id)
            try:
                return _meltano(
                    registry_url,
                    tenant,
                    deployment,
                    work=Path(work),
                    attempts=attempts,
                    meltano_run_id=meltano_run_id,
                    timeout=timeout,
                )
            finally:
                # Reached only once every process of the attempt is gone (or never started).
                attempts.finish(tenant_id)
        finally:
            attempts.close()


def _meltano(
    registry_url: str,
    tenant: Tenant,
    deployment: meltano_run.Deployment,
    *,
    work: Path,
    attempts: run_guard.Attempts,
    meltano_run_id: str,
    timeout: timedelta | None,
) -> Outcome:
    report_dir = work / "reports"
    report_dir.mkdir()
    sys_dir = meltano_run.isolated_sys_dir(deployment.project_root, work / "meltano-sys")
    try:
        env = meltano_run.meltano_env(tenant, deployment, sys_dir=sys_dir, report_dir=report_dir)
    except meltano_run.ConfigurationError as exc:
        mark_attention(registry_url, tenant.tenant_id, str(exc))
    log_path = work / "meltano.log"
    started, cpu_before = time.monotonic(), os.times()
    code = run_guard.run_process_group(
        meltano_run.meltano_argv(tenant, deployment, meltano_run_id),
        cwd=deployment.project_root,
        env=env,
        log_path=log_path,
        on_group=lambda pgid: attempts.set_group(tenant.tenant_id, pgid),
        timeout=timeout,
    )
    cpu_after = os.times()
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if code != 0:
        problem = meltano_run.configuration_problem(lines)
        if problem:
            mark_attention(registry_url, tenant.tenant_id, problem)
        msg = f"meltano run of tenant {tenant.tenant_id} exited {code}"
        raise MeltanoRunError(msg, "\n".join(lines[-25:]))
    return Outcome(
        reports=meltano_run.read_reports(report_dir),
        wall_seconds=round(time.monotonic() - started, 2),
        cpu_seconds=round(
            (cpu_after.children_user - cpu_before.children_user)
            + (cpu_after.children_system - cpu_before.children_system),
            2,
        ),
    )


def mark_attention(registry_url: str, tenant_id: str, problem: str) -> None:
    """Record the S10.3 problem on the tenant's row and stop: no retry loop."""
    registry = Registry(registry_url)
    try:
        registry.mark_attention(tenant_id, problem)
    finally:
        registry.close()
    raise NeedsAttentionError(problem)
