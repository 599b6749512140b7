"""Run the project's real ``meltano`` against the sandboxes, isolated per test or demo run.

Each run gets its own Meltano system directory (system DB, state, ``run/`` files) whose plugin
virtualenvs are symlinks to the project's installed ones. That keeps Meltano state apart between
tests and avoids meltano#8763 (parallel runs of one editable plugin racing on
``.meltano/run/<plugin>/tap.properties.json``) without reinstalling anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN_DIRS = ("extractors", "loaders", "mappers", "utilities")


def _meltano() -> str:
    beside = Path(sys.executable).with_name("meltano")
    return str(beside) if beside.exists() else "meltano"


def env_prefix(plugin_name: str) -> str:
    """Env-var prefix Meltano uses for a plugin: ``tap-sell--acme`` → ``TAP_SELL__ACME``."""
    return plugin_name.upper().replace("-", "_")


@dataclass
class MeltanoProject:
    """The repository's Meltano project with an isolated system directory."""

    root: Path
    sys_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def isolated(
        cls, root: Path, workdir: Path, env: dict[str, str] | None = None
    ) -> MeltanoProject:
        sys_dir = workdir / "meltano-sys"
        sys_dir.mkdir(parents=True, exist_ok=True)
        installed = root / ".meltano"
        for name in PLUGIN_DIRS:
            source, link = installed / name, sys_dir / name
            if source.exists() and not link.exists():
                link.symlink_to(source, target_is_directory=True)
        return cls(root=root, sys_dir=sys_dir, env=dict(env or {}))

    def process_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **self.env, **(extra or {})}
        env["MELTANO_SYS_DIR_ROOT"] = str(self.sys_dir)
        env.setdefault("MELTANO_CLI_DISABLE_VERSION_CHECK", "true")
        env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        env.setdefault("MELTANO_AUTO_INSTALL", "false")
        return env

    def run(
        self,
        *args: str,
        timeout: float = 600,
        check: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``meltano ARGS`` in the project root; a failure shows the tail of its log."""
        proc = subprocess.run(
            [_meltano(), *args],
            cwd=self.root,
            env=self.process_env(extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            tail = "\n".join((proc.stderr or "").splitlines()[-60:])
            msg = f"meltano {' '.join(args)} exited {proc.returncode}:\n{tail}"
            raise AssertionError(msg)
        return proc

    def state(self, state_id: str) -> dict:
        """The Singer state Meltano holds for ``state_id`` (``{}`` when none)."""
        proc = self.run("state", "get", state_id, check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            return {}
        return json.loads(proc.stdout.strip().splitlines()[-1])
