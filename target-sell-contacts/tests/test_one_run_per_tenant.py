"""S15.2 across machines: two runs of one tenant that share only the PostgreSQL ledger.

Two target processes for one tenant, started as two machines (or a run by hand beside the
orchestrator) would start them: the first holds the tenant's run lock on the ledger; the second
refuses with a message saying so, before it writes anything to Sell or to the ledger; the first
then finishes as if alone. Skips, saying so, without the PostgreSQL server at 127.0.0.1:5432.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from contact_mapping.ledger.run_lock import lock_key
from contact_mapping.testing_db import postgres_unreachable, private_postgres_database

pytestmark = [pytest.mark.spec("S15.2"), pytest.mark.postgres, pytest.mark.subprocess]

COUNT = 30


def _target(config_file: Path) -> list[str]:
    return [
        str(Path(sys.executable).with_name("target-sell-contacts")),
        "--config",
        str(config_file),
    ]


def _lock_held(url: str, key: int) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND database = (SELECT oid FROM pg_database"
                        "   WHERE datname = current_database())"
                        " AND classid = :c AND objid = :o AND objsubid = 1"
                    ),
                    {"c": (key >> 32) & 0xFFFFFFFF, "o": key & 0xFFFFFFFF},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _ledger_rows(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("runs"):
                return {}
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                for table in ("links", "intents", "runs")
            }
    finally:
        engine.dispose()


def test_a_second_target_of_a_running_tenant_refuses_and_writes_nothing(
    tenant, lines, make_record, tmp_path
):
    if reason := postgres_unreachable():
        pytest.skip(reason)
    records = [
        make_record(given_name=f"Once{i}", surname="Only", email_address_1=f"once{i}@x.example")
        for i in range(COUNT)
    ]
    schema_line, *rest = lines(records).splitlines(keepends=True)
    with private_postgres_database("run_lock") as url:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps({**tenant.config, "ledger_url": url}))
        (tmp_path / "input.singer").write_text(schema_line + "".join(rest))
        first = subprocess.Popen(
            _target(config_file),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "first.log").open("w"),
            text=True,
        )
        assert first.stdin is not None
        try:
            # The first run opens (the SCHEMA message) and holds the tenant's ledger, mid-run.
            first.stdin.write(schema_line + "".join(rest[:5]))
            first.stdin.flush()
            deadline = time.monotonic() + 60
            while not (
                _lock_held(url, lock_key(tenant.config["tenant"], None))
                and _ledger_rows(url).get("runs")  # its run started (the ledger is made)
            ):
                assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the first target never held the tenant"
                time.sleep(0.1)
            ledger_before = _ledger_rows(url)

            second = subprocess.run(
                [*_target(config_file), "--input", str(tmp_path / "input.singer")],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert second.returncode != 0
            assert (
                f"tenant '{tenant.config['tenant']}' is being synced by another run"
                in second.stderr
            ), second.stderr[-2000:]
            assert "stops before writing anything" in second.stderr
            assert "Config validation failed" not in second.stderr  # not S10.3: retry later
            assert tenant.api.writes() == {}, "the refused run wrote to Sell"
            assert _ledger_rows(url) == ledger_before, "the refused run wrote to the ledger"

            first.stdin.write("".join(rest[5:]))
            first.stdin.close()
            first.wait(timeout=180)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        assert first.returncode == 0, (tmp_path / "first.log").read_text()[-2000:]
        people = tenant.api.people()
        assert sorted(p["email"] for p in people) == sorted(
            f"once{i}@x.example" for i in range(COUNT)
        )
