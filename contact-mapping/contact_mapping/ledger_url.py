"""The default ledger URL both targets agree on (setting ``ledger_url`` unset).

Meltano keeps its system files in ``$MELTANO_SYS_DIR_ROOT`` (default ``<project>/.meltano``); the
ledger lives beside them so an isolated Meltano system directory also gets its own ledger, and
both targets of one project always open the same file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

LEDGER_FILE = "contact-sync-ledger.db"


def default_ledger_url(environ: Mapping[str, str] | None = None) -> str:
    """``sqlite:///`` + (``$MELTANO_SYS_DIR_ROOT`` or ``<project>/.meltano``) + the file name."""
    env = os.environ if environ is None else environ
    sys_dir = env.get("MELTANO_SYS_DIR_ROOT")
    if sys_dir:
        base = Path(sys_dir)
    else:
        base = Path(env.get("MELTANO_PROJECT_ROOT") or Path.cwd()) / ".meltano"
    return f"sqlite:///{(base / LEDGER_FILE).resolve()}"


def ledger_url(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The configured URL, or the default when the setting is unset or blank."""
    return configured.strip() if configured and configured.strip() else default_ledger_url(environ)
