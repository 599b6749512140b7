"""The ``ledger_url`` setting both targets share: its default, and opening the ledger it names.

Meltano keeps its system files in ``$MELTANO_SYS_DIR_ROOT`` (default ``<project>/.meltano``); the
ledger lives beside them so an isolated Meltano system directory also gets its own ledger, and
both targets of one project always open the same file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError
from sqlalchemy.engine import make_url

from contact_mapping.ledger import Ledger, TenantBusyError

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


class LedgerSetupError(ConfigValidationError):
    """The ``ledger_url`` setting names a ledger that cannot be opened (S10.3, before any write)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])
        self.setting = "ledger_url"


#: The extra that brings the PostgreSQL driver (SQLite's is in the standard library).
POSTGRES_EXTRA = "contact-mapping[postgres]"


def open_ledger(
    configured: str | None, tenant: str, environ: Mapping[str, str] | None = None
) -> Ledger:
    """The ledger the setting names, or a message that names the setting and hides its password.

    Both targets open it this way so a wrong URL, a missing driver or an unreachable server
    stops either of them alike, before anything is written. The ledger holds the tenant's run
    lock until closed: TenantBusyError (not a configuration problem; the run may be retried)
    while another run of the tenant holds it (S15.2).
    """
    url = ledger_url(configured, environ)
    try:
        return Ledger(url, tenant, exclusive=True)
    except TenantBusyError:
        raise
    except ModuleNotFoundError as exc:
        msg = (
            f"ledger_url: the PostgreSQL driver {exc.name!r} is not installed in this plugin's "
            f"environment; install {POSTGRES_EXTRA} (the targets' pip_url in meltano.yml does)"
        )
        raise LedgerSetupError(msg) from None
    except Exception as exc:  # any failure to open is a configuration problem here
        detail = _without_secrets(f"{type(exc).__name__}: {exc}", url)
        msg = f"ledger_url: cannot open the sync ledger ({detail})"
        raise LedgerSetupError(msg) from None


def _without_secrets(text: str, url: str) -> str:
    """The error text with the URL's password (and the raw URL, parse errors quote it) masked."""
    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL: the whole string may hold the secret
        password = None
    text = text.replace(url, "<ledger_url>")
    return text.replace(password, "***") if password else text
