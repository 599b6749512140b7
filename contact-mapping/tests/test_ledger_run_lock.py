"""One writing run per tenant and ledger (S15.2): the targets' run lock on a PostgreSQL ledger.

The lock is what keeps two runs of one tenant apart when they were started on two machines (or
one by hand beside the orchestrator): their only meeting point is the ledger's database. These
tests skip, saying so, when the PostgreSQL server at 127.0.0.1:5432 is not reachable.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from contact_mapping.ledger import Ledger, TenantBusyError
from contact_mapping.ledger.run_lock import lock_key
from contact_mapping.ledger_url import open_ledger
from contact_mapping.testing_db import PG_URL, postgres_unreachable

pytestmark = [pytest.mark.spec("S15.2"), pytest.mark.postgres]


@pytest.fixture
def schema() -> Iterator[str]:
    """A private schema of the test database, dropped afterwards."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    name = f"cm_lock_{uuid.uuid4().hex[:12]}"
    yield name
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


def _lock_holders(key: int) -> int:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid = :c AND objid = :o AND objsubid = 1"
                    ),
                    {"c": (key >> 32) & 0xFFFFFFFF, "o": key & 0xFFFFFFFF},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_second_run_of_the_tenant_is_refused_until_the_first_closes(schema: str) -> None:
    first = Ledger(PG_URL, "acme", schema=schema, exclusive=True)
    try:
        with pytest.raises(TenantBusyError) as caught:
            Ledger(PG_URL, "acme", schema=schema, exclusive=True)
        message = str(caught.value)
        assert "tenant 'acme' is being synced by another run (PostgreSQL backend" in message
        assert "stops before writing anything" in message
        # Another tenant, and readers that take no run lock, are not held up.
        Ledger(PG_URL, "globex", schema=schema, exclusive=True).close()
        Ledger(PG_URL, "acme", schema=schema).close()
        # The same tenant in another schema is another ledger.
        Ledger(PG_URL, "acme", schema=f"{schema}_b", exclusive=True).close()
    finally:
        first.close()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}_b" CASCADE')
        engine.dispose()
    Ledger(PG_URL, "acme", schema=schema, exclusive=True).close()
    assert _lock_holders(lock_key("acme", schema)) == 0


def test_a_busy_tenant_is_not_reported_as_bad_configuration() -> None:
    """open_ledger (both targets) passes the refusal on as it is: the orchestrator retries it
    with back-off instead of marking the tenant as needing attention (S10.3)."""
    if reason := postgres_unreachable():
        pytest.skip(reason)
    tenant = f"acme-{uuid.uuid4().hex[:12]}"  # the targets' ledger: no schema, database `test`
    holder = open_ledger(PG_URL, tenant)
    try:
        with pytest.raises(TenantBusyError, match=f"tenant '{tenant}' is being synced"):
            open_ledger(PG_URL, tenant)
    finally:
        holder.close()
    open_ledger(PG_URL, tenant).close()


@pytest.mark.subprocess
def test_a_killed_holder_lets_the_tenant_run_again_at_once(schema: str) -> None:
    """The server ends the session of a process killed with SIGKILL, and its lock with it."""
    code = (
        "import sys, time\n"
        "from contact_mapping.ledger import Ledger\n"
        f"Ledger({PG_URL!r}, 'acme', schema={schema!r}, exclusive=True)\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TenantBusyError):
            Ledger(PG_URL, "acme", schema=schema, exclusive=True)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 10
    while _lock_holders(lock_key("acme", schema)):
        assert time.monotonic() < deadline, "the killed holder's lock outlived it"
        time.sleep(0.1)
    Ledger(PG_URL, "acme", schema=schema, exclusive=True).close()


def test_sqlite_takes_no_run_lock(tmp_path) -> None:
    """A SQLite ledger is one file on one machine; its file lock orders every write."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = Ledger(url, "acme", exclusive=True)
    try:
        Ledger(url, "acme", exclusive=True).close()
    finally:
        first.close()
