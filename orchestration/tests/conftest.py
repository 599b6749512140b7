"""Fixtures of the orchestration package's own tests (run with orchestration/.venv/bin/pytest)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


def _postgres_unreachable() -> str | None:
    try:
        engine = sa.create_engine(f"{PG_SERVER}/test", connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not reachable"
        return f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.__class__.__name__}"
    return None


@pytest.fixture
def registry_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test's registry, dropped afterwards."""
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
