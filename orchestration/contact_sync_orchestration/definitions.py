"""The Dagster code location: one run per tenant and tick, started by a sensor over the registry.

- ``tenant_sync``: a job of one op that runs the tenant's two-way sync (``meltano run``, see
  ``meltano_run``) under the tenant's lock (``run_guard``) and attaches both run reports as
  metadata. Runs execute on Celery workers (``CeleryRunLauncher`` in dagster.yaml): the run's op
  executes in the worker's process, with no extra run-worker process per tenant.
- ``tenants_due``: every ``CONTACT_SYNC_INTERVAL_SECONDS`` (900), a run for every active tenant,
  skipping one whose run is queued or still going. The run queue's tag concurrency limit
  (``contact_sync/tenant``, one per value) is the second fence, the tenant lock the third (S15.2).
- Failures retry with exponential back-off and jitter (``RetryPolicy``); bad configuration
  (S10.3) fails without retry and marks the tenant as needing attention in the registry.
- A run whose worker died (its Celery task killed, or the whole worker) is failed at once by
  the sensor when the tenant's lock is no longer held, and Dagster's run retries start it again.
"""

import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from dagster import (
    Backoff,
    DefaultSensorStatus,
    Definitions,
    Failure,
    Jitter,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus

from contact_sync_orchestration import run_guard, tenant_cycle
from contact_sync_orchestration.registry import Registry

TENANT_TAG = "contact_sync/tenant"
# Queued and not-yet-started runs count too: a tick must not queue a second run of a tenant.
UNFINISHED = [status for status in DagsterRunStatus if status not in FINISHED_STATUSES]
INTERVAL_SECONDS = int(os.environ.get("CONTACT_SYNC_INTERVAL_SECONDS", "900"))
RETRY_DELAY_SECONDS = float(os.environ.get("CONTACT_SYNC_RETRY_DELAY_SECONDS", "30"))
RUN_TIMEOUT = timedelta(seconds=int(os.environ.get("CONTACT_SYNC_RUN_TIMEOUT_SECONDS", "3600")))
WATCH_SECONDS = int(os.environ.get("CONTACT_SYNC_WATCH_SECONDS", "15"))


def registry_url() -> str:
    url = os.environ.get("CONTACT_SYNC_REGISTRY_URL")
    if not url:
        raise Failure("set CONTACT_SYNC_REGISTRY_URL (the tenant registry) on every worker")
    return url


def _summary(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per direction: created / updated / conflicts / rejected ..., summed over streams."""
    metadata: dict[str, Any] = {}
    for target, report in reports.items():
        direction = "exchange_to_sell" if target == "target-sell-contacts" else "sell_to_exchange"
        totals: dict[str, int] = {}
        for counts in (report.get("streams") or {}).values():
            for key, value in (counts or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
        for key in ("conflicts", "rejected", "links_retired"):
            totals[key] = len(report.get(key) or [])
        for key, value in sorted(totals.items()):
            metadata[f"{direction}/{key}"] = value
        metadata[f"{direction}/report"] = MetadataValue.json(report)
    return metadata


@op(
    config_schema={"tenant_id": str},
    out=Out(dagster_type=None, is_required=False),
    retry_policy=RetryPolicy(
        max_retries=3,
        delay=RETRY_DELAY_SECONDS,
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    ),
    tags={"kind": "meltano"},
)
def sync_tenant(context: OpExecutionContext) -> Iterator[Output]:
    """One two-way cycle of one tenant: ``meltano run`` of both directions, as a subprocess."""
    tenant_id = context.op_config["tenant_id"]
    try:
        outcome = tenant_cycle.run_cycle(
            registry_url(),
            tenant_id,
            context.run_id,
            _meltano_run_id(context),
            log=context.log.info,
            timeout=RUN_TIMEOUT,
        )
    except tenant_cycle.NeedsAttentionError as exc:
        context.log.error(f"tenant {tenant_id} needs attention: {exc}")
        raise Failure(
            f"tenant {tenant_id} needs attention (bad configuration): {exc}",
            metadata={"needs attention": str(exc)},
            allow_retries=False,
        ) from None
    except run_guard.RunCancelledError as exc:
        raise Failure(str(exc), allow_retries=False) from None
    except tenant_cycle.MeltanoRunError as exc:
        # Transient (network, server busy, ...): the RetryPolicy tries again after back-off.
        raise Failure(
            str(exc), metadata={"log tail": MetadataValue.md(f"```\n{exc.log_tail}\n```")}
        ) from None
    if outcome.skipped:
        context.log.info(f"{outcome.skipped}; nothing to run")
        return
    metadata = _summary(outcome.reports)
    metadata["wall seconds"] = outcome.wall_seconds
    metadata["meltano CPU seconds"] = outcome.cpu_seconds
    yield Output(None, metadata=metadata)


def _meltano_run_id(context: OpExecutionContext) -> str:
    """Meltano's run id: the Dagster run id (a UUID), fresh for each retry of the op."""
    attempt = context.retry_number
    if attempt == 0:
        return context.run_id
    return str(uuid.uuid5(uuid.UUID(context.run_id), f"attempt {attempt}"))


@job(executor_def=in_process_executor, tags={"dagster/max_retries": "2"})
def tenant_sync() -> None:
    """A tenant's two-way sync (Exchange → Sell, then Sell → Exchange)."""
    sync_tenant()


def _in_progress(instance: Any, tenant_id: str) -> list[Any]:
    return list(
        instance.get_run_records(RunsFilter(tags={TENANT_TAG: tenant_id}, statuses=UNFINISHED))
    )


def _is_dead(url: str, attempts: run_guard.Attempts, run: Any) -> bool:
    """A STARTED run whose attempt began under the tenant lock, never finished, and whose lock
    is free: the process holding it is gone (a killed Celery task, or the whole worker)."""
    if run.status != DagsterRunStatus.STARTED:
        return False
    tenant_id = run.tags.get(TENANT_TAG)
    attempt = attempts.current(tenant_id) if tenant_id else None
    return bool(
        attempt
        and attempt.run_id == run.run_id
        and attempt.finished_at is None
        and not run_guard.lock_held(url, tenant_id)
    )


@sensor(
    job=tenant_sync,
    minimum_interval_seconds=WATCH_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def dead_tenant_runs(context: SensorEvaluationContext) -> SkipReason:
    """Fail at once the runs whose worker died, so Dagster's run retry starts them again (the
    Celery launcher cannot see a worker that vanished: its task stays "started")."""
    url = registry_url()
    attempts = run_guard.Attempts(url)
    failed = []
    try:
        for record in context.instance.get_run_records(
            RunsFilter(job_name=tenant_sync.name, statuses=[DagsterRunStatus.STARTED])
        ):
            run = record.dagster_run
            if _is_dead(url, attempts, run) and _is_dead(
                url, attempts, context.instance.get_run_by_id(run.run_id)
            ):
                context.instance.report_run_failed(
                    run, "the worker running this tenant died (its tenant lock was released)"
                )
                failed.append(run.tags[TENANT_TAG])
    finally:
        attempts.close()
    return SkipReason(f"failed dead runs of {failed}" if failed else "no dead run")


@sensor(
    job=tenant_sync,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def tenants_due(context: SensorEvaluationContext) -> Iterator[RunRequest | SkipReason]:
    """Every interval: a run per active tenant that has none queued or going."""
    url = registry_url()
    registry = Registry(url)
    try:
        due = list(registry.due())
    finally:
        registry.close()
    tick = int(time.time())
    started = 0
    for tenant in due:
        if _in_progress(context.instance, tenant.tenant_id):
            continue
        started += 1
        yield RunRequest(
            run_key=f"{tenant.tenant_id}@{tick}",
            run_config={"ops": {"sync_tenant": {"config": {"tenant_id": tenant.tenant_id}}}},
            tags={TENANT_TAG: tenant.tenant_id},
        )
    if not started:
        yield SkipReason(f"{len(due)} active tenant(s), none without a run in progress")


defs = Definitions(jobs=[tenant_sync], sensors=[tenants_due, dead_tenant_runs])
