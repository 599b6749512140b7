"""Schema upgrades by Alembic: a ledger's database is brought to the newest revision on open.

The revisions live in ``migrations/versions``. ``v1`` to ``v4`` are the schema versions the ledger
had before Alembic, so a database made then (its ``meta`` table says ``schema_version`` N) is
stamped ``vN`` and upgraded in place from there. The facade runs :func:`upgrade` in one write
transaction after ``schema_version.lock``: SQLite's ``BEGIN IMMEDIATE`` or a PostgreSQL advisory
lock, so two processes opening one new database create it once and the second finds it done.
The facade imports this module only when ``schema_version`` finds the schema behind ``HEAD``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from contact_mapping.ledger.models import SchemaTooNewError
from contact_mapping.ledger.schema import meta
from contact_mapping.ledger.schema_version import VERSION_TABLE, current_revision

__all__ = ["VERSION_TABLE", "config", "head", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: ``meta.schema_version`` of a ledger made before Alembic → the revision with its schema.
LEGACY_REVISIONS = {1: "v1", 2: "v2", 3: "v3", 4: "v4"}


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head() -> str:
    """The newest revision this contact-mapping knows."""
    revision = _scripts().get_current_head()
    assert revision is not None, f"no revisions in {MIGRATIONS}"
    return revision


def _legacy_revision(conn: sa.Connection) -> str | None:
    """The revision equal to a pre-Alembic ledger's schema, or None for an empty database."""
    if not sa.inspect(conn).has_table("meta"):
        return None
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    if row is None:
        return None
    number = int(row[0])
    if number not in LEGACY_REVISIONS:
        msg = (
            f"ledger schema version {number} is newer than this contact-mapping "
            f"(knows up to {head()}); upgrade contact-mapping"
        )
        raise SchemaTooNewError(msg)
    return LEGACY_REVISIONS[number]


def config(conn: sa.Connection) -> Config:
    """Alembic's configuration, built here: no ``alembic.ini`` is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = conn  # migrations/env.py runs in this transaction
    return config


def upgrade(conn: sa.Connection) -> tuple[str | None, str]:
    """Create or upgrade in the caller's transaction; returns (revision found, revision now).

    A ledger from before Alembic is stamped with the revision equal to its schema first.
    """
    found = current_revision(conn)
    if found == head():  # every open but the first after an upgrade of contact-mapping
        return found, found
    if found is not None:
        try:
            _scripts().get_revision(found)
        except CommandError:
            msg = (
                f"ledger schema revision {found!r} is newer than this contact-mapping "
                f"(knows up to {head()!r}); upgrade contact-mapping"
            )
            raise SchemaTooNewError(msg) from None
    alembic_config = config(conn)
    legacy = _legacy_revision(conn) if found is None else None
    if legacy is not None:
        command.stamp(alembic_config, legacy)
    command.upgrade(alembic_config, "head")
    return found or legacy, head()
