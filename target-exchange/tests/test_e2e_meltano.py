"""End to end through real ``meltano run tap-sell target-exchange`` against both sandboxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import running_sandbox

from .conftest import MAILBOXES, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e" * 64


@pytest.mark.spec("S1.3", "S7.1")
@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
def test_meltano_run_creates_then_second_run_writes_nothing(ews, tmp_path):
    mailbox = MAILBOXES[-1]
    with running_sandbox("sell-sandbox", ["--token", TOKEN, "--seed", "20"]) as sell:
        report = tmp_path / "report.json"
        project = MeltanoProject.isolated(
            ROOT,
            tmp_path,
            env={
                "MELTANO_ENVIRONMENT": "demo",
                "DEMO_SELL_URL": sell.base_url,
                "DEMO_EWS_ENDPOINT": f"{ews.base_url}/EWS/Exchange.asmx",
                "DEMO_EWS_MAILBOX": mailbox,
                "TAP_SELL_API_TOKEN": TOKEN,
                "TARGET_EXCHANGE_PASSWORD": PASSWORD,
                "TARGET_EXCHANGE_REPORT_PATH": str(report),
            },
        )
        project.run("run", "tap-sell", "target-exchange")
        first = json.loads(report.read_text())
        created = sum(s["created"] for s in first["streams"].values())
        assert created >= 20
        ews.reset()
        project.run("run", "tap-sell", "target-exchange")
        second = json.loads(report.read_text())
        assert sum(s["created"] + s["updated"] for s in second["streams"].values()) == 0
        stats = ews.stats()["by_tenant"].get(mailbox, {})
        assert stats.get("total_writes", 0) == 0
