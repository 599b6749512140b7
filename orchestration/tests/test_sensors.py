"""The sensors: one run per active tenant and tick, none while one is queued or going (S15.2)."""

from __future__ import annotations

import pytest
from contact_sync_orchestration import definitions
from contact_sync_orchestration.registry import Registry, Tenant
from dagster import DagsterInstance, DagsterRunStatus, RunRequest, build_sensor_context

pytestmark = pytest.mark.spec("S15.2")


def _tenant(tenant_id: str, **changes: object) -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        exchange={"primary_smtp_address": f"sync@{tenant_id}.example"},
        categories=["Clients"],
        sell={"api_url": "https://api.getbase.com"},
        secrets={"sell_api_token": f"env:{tenant_id.upper()}_TOKEN"},
        **changes,  # type: ignore[arg-type]
    )


def _requested(instance: DagsterInstance) -> list[str]:
    context = build_sensor_context(instance=instance)
    return sorted(
        r.tags[definitions.TENANT_TAG]
        for r in definitions.tenants_due(context)
        if isinstance(r, RunRequest)
    )


def test_a_tick_requests_active_tenants_without_a_queued_or_running_run(registry_url, monkeypatch):
    monkeypatch.setenv("CONTACT_SYNC_REGISTRY_URL", registry_url)
    registry = Registry(registry_url)
    try:
        for tenant in (_tenant("queued"), _tenant("running"), _tenant("idle"),
                       _tenant("done"), _tenant("paused", paused=True)):  # fmt: skip
            registry.add(tenant)
        registry.add(_tenant("broken"))
        registry.mark_attention("broken", "tap-sell: api_token rejected (401)")
    finally:
        registry.close()
    with DagsterInstance.ephemeral() as instance:
        for tenant_id, status in (
            ("queued", DagsterRunStatus.NOT_STARTED),  # created, not yet started
            ("running", DagsterRunStatus.STARTED),
            ("done", DagsterRunStatus.SUCCESS),
        ):
            instance.create_run_for_job(
                definitions.tenant_sync,
                run_config={"ops": {"sync_tenant": {"config": {"tenant_id": tenant_id}}}},
                status=status,
                tags={definitions.TENANT_TAG: tenant_id},
            )
        assert _requested(instance) == ["done", "idle"]
