"""Alembic's environment for the ledger: the migrations run on a connection given to them.

At run time ``contact_mapping.ledger.migrate`` passes its connection, already inside the write
transaction that holds the upgrade lock (``config.attributes["connection"]``); Alembic then
runs every step in that one transaction. A developer writing a revision uses the command line
on a scratch database instead (``[tool.alembic]`` in contact-mapping's pyproject.toml)::

    cd contact-mapping
    alembic -x url=sqlite:///scratch.db upgrade head
    alembic -x url=sqlite:///scratch.db revision --autogenerate -m "what changes"
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from contact_mapping.ledger.migrate import VERSION_TABLE
from contact_mapping.ledger.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    msg = "the ledger's migrations run on a database (no --sql mode)"
    raise SystemExit(msg)
given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        msg = "name a scratch database: alembic -x url=sqlite:///scratch.db <command>"
        raise SystemExit(msg)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
    engine.dispose()
