"""One tenant's two-way sync as one `meltano run` subprocess: its command, environment and outcome.

The tenant's settings and secrets go into that subprocess's environment only (never into a file,
a Dagster event or the worker's own environment), as Meltano's per-plugin variables of the four
base plugins (``TAP_SELL_API_TOKEN``...). ``--state-id-suffix=<tenant>`` gives each tenant its
own Meltano state over one set of plugins, and the targets' ``tenant`` setting its own ledger rows
(S15.3). Both directions run in one invocation: one Meltano start-up per cycle, not two.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contact_sync_orchestration.registry import SECRET_SETTINGS, Tenant

ENVIRONMENT = "prod"
DIRECTIONS = (
    ("tap-exchange-contacts", "target-sell-contacts"),
    ("tap-sell", "target-exchange"),
)
EXCHANGE_PLUGINS = ("tap-exchange-contacts", "target-exchange")
SELL_PLUGINS = ("tap-sell", "target-sell-contacts")
TARGETS = ("target-sell-contacts", "target-exchange")
# Settings only one plugin of a pair knows (SPEC §3); the others go to both.
ONLY = {
    "start_date": ("tap-exchange-contacts", "tap-sell"),
    "folder": ("target-exchange",),
    "overwritten_values_field": ("target-sell-contacts",),
    "exchange_id_field": ("target-sell-contacts",),
    "create_companies": ("target-sell-contacts",),
}
REPORT_FILES = {
    "target-sell-contacts": "exchange-to-sell.json",
    "target-exchange": "sell-to-exchange.json",
}
# What a worker passes on to Meltano from its own environment: nothing tenant-specific, and no
# other tenant's secret. (A small environment is also cheaper: Meltano copies it per setting.)
INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PYTHONDONTWRITEBYTECODE",
)
CONFIG_FAILED = "Config validation failed"  # singer-sdk's last line for a bad setting (S10.3)
PLUGIN_NOISE = re.compile(r"Skipping parse of env var|Meltano SDK v|^\s*$")


class ConfigurationError(Exception):
    """The tenant cannot run as configured (S10.3); the message names the setting, no secret."""


@dataclass(frozen=True)
class Deployment:
    """Where this checkout's Meltano project and the shared databases are."""

    project_root: Path
    meltano_database_uri: str
    ledger_url: str

    @property
    def meltano(self) -> Path:
        return self.project_root / ".venv" / "bin" / "meltano"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Deployment:
        """``CONTACT_SYNC_PROJECT_ROOT`` (default: this checkout) and the PostgreSQL URLs
        ``CONTACT_SYNC_MELTANO_DATABASE_URI`` and ``CONTACT_SYNC_LEDGER_URL``."""
        root = environ.get("CONTACT_SYNC_PROJECT_ROOT") or Path(__file__).resolve().parents[2]
        missing = [
            name
            for name in ("CONTACT_SYNC_MELTANO_DATABASE_URI", "CONTACT_SYNC_LEDGER_URL")
            if not environ.get(name)
        ]
        if missing:
            msg = f"set {', '.join(missing)} (PostgreSQL URLs) on every worker"
            raise ConfigurationError(msg)
        return cls(
            project_root=Path(root),
            meltano_database_uri=psycopg_url(environ["CONTACT_SYNC_MELTANO_DATABASE_URI"]),
            ledger_url=psycopg_url(environ["CONTACT_SYNC_LEDGER_URL"]),
        )


def psycopg_url(url: str) -> str:
    """The URL for the Meltano side, whose venvs drive PostgreSQL with psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.split("+")[0] in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    return url


def state_ids(tenant_id: str) -> list[str]:
    """Meltano's state ids of a tenant's two directions (`meltano run --help`)."""
    return [f"{ENVIRONMENT}:{tap}-to-{target}:{tenant_id}" for tap, target in DIRECTIONS]


def plugin_prefix(plugin: str) -> str:
    return plugin.upper().replace("-", "_")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def resolve_secret(name: str, reference: str, environ: Mapping[str, str]) -> str:
    """The value behind ``env:VAR`` or ``file:PATH``, read on this worker; errors never show it."""
    kind, _, where = reference.partition(":")
    if kind == "env":
        value = environ.get(where)
        if not value:
            msg = f"secret {name}: environment variable {where} is not set on this worker"
            raise ConfigurationError(msg)
        return value
    if kind == "file":
        try:
            return Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            msg = f"secret {name}: cannot read {where} on this worker ({exc.strerror})"
            raise ConfigurationError(msg) from None
    msg = f"secret {name}: {kind!r} is not a reference (env:VAR or file:PATH)"
    raise ConfigurationError(msg)


def tenant_settings(tenant: Tenant, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every setting of the four plugins for this tenant, by plugin, secrets resolved."""
    settings: dict[str, dict[str, Any]] = {p: {} for p in (*EXCHANGE_PLUGINS, *SELL_PLUGINS)}

    def put(plugins: Iterable[str], key: str, value: Any) -> None:
        for plugin in plugins:
            if plugin in ONLY.get(key, (plugin,)):
                settings[plugin][key] = value

    for key, value in tenant.exchange.items():
        put(EXCHANGE_PLUGINS, key, value)
    for key, value in tenant.sell.items():
        put(SELL_PLUGINS, key, value)
    settings["tap-exchange-contacts"]["categories"] = list(tenant.categories)
    for name, reference in sorted(tenant.secrets.items()):
        system, setting = SECRET_SETTINGS[name]
        put(
            EXCHANGE_PLUGINS if system == "exchange" else SELL_PLUGINS,
            setting,
            resolve_secret(name, reference, environ),
        )
    for target in TARGETS:
        settings[target]["tenant"] = tenant.tenant_id
    return settings


def meltano_env(
    tenant: Tenant,
    deployment: Deployment,
    *,
    sys_dir: Path,
    report_dir: Path,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The subprocess environment: a few inherited variables, Meltano's, and this tenant's only."""
    env = {k: environ[k] for k in INHERITED if k in environ}
    env |= {
        "MELTANO_DATABASE_URI": deployment.meltano_database_uri,
        "CONTACT_SYNC_LEDGER_URL": deployment.ledger_url,  # the prod environment's ledger_url
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_AUTO_INSTALL": "false",
    }
    for plugin, values in tenant_settings(tenant, environ).items():
        for key, value in values.items():
            env[f"{plugin_prefix(plugin)}_{key.upper()}"] = _value(value)
    for target, filename in REPORT_FILES.items():
        env[f"{plugin_prefix(target)}_REPORT_PATH"] = str(report_dir / filename)
    return env


def meltano_argv(tenant: Tenant, deployment: Deployment, run_id: str) -> list[str]:
    """``meltano --environment=prod run`` of both directions, one state id suffix per tenant."""
    return [
        str(deployment.meltano),
        f"--environment={ENVIRONMENT}",
        "--log-format=json",
        "run",
        "--no-install",
        f"--state-id-suffix={tenant.tenant_id}",
        f"--run-id={run_id}",
        *(plugin for pair in DIRECTIONS for plugin in pair),
    ]


def isolated_sys_dir(project_root: Path, sys_dir: Path) -> Path:
    """A Meltano system directory for one run, its plugin venvs linked to the installed ones.

    Meltano writes each plugin's state, catalog and config under ``.meltano/run/<plugin>/``;
    two tenants running at once on one machine must not share those files (meltano#8763).
    """
    sys_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("extractors", "loaders"):
        installed = project_root / ".meltano" / kind
        link = sys_dir / kind
        if installed.exists() and not link.exists():
            link.symlink_to(installed, target_is_directory=True)
    return sys_dir


def configuration_problem(log_lines: Iterable[str]) -> str | None:
    """The S10.3 message of a plugin that stopped on bad configuration, from Meltano's JSON log."""
    recent: dict[str, list[str]] = {}
    for line in log_lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "name" not in event or "event" not in event:
            continue
        plugin, text = str(event["name"]), str(event["event"])
        if text.strip() == CONFIG_FAILED:
            lines = recent.get(plugin) or ["a setting was refused"]
            return f"{plugin}: {' '.join(lines[-3:])}"
        if PLUGIN_NOISE.search(text):
            continue
        recent.setdefault(plugin, []).append(text.strip())
    return None


def read_reports(report_dir: Path) -> dict[str, dict[str, Any]]:
    """The targets' run reports (S12) this run wrote, by target."""
    reports = {}
    for target, filename in REPORT_FILES.items():
        path = report_dir / filename
        if path.exists():
            try:
                reports[target] = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                continue
    return reports
