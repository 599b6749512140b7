"""tap-sell in an ordinary data stack: ``meltano run tap-sell target-jsonl`` in a tiny project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_common.process import running_sandbox

TOKEN = "m" * 48 + "0123456789abcdef"
TAP_SELL_DIR = Path(__file__).resolve().parents[1]
MELTANO = str(Path(sys.executable).with_name("meltano"))

PROJECT = """\
project_id: tap-sell-e2e
send_anonymous_usage_stats: false
default_environment: test
environments:
- name: test
plugins:
  extractors:
  - name: tap-sell
    namespace: tap_sell
    pip_url: -e {tap_dir}
    executable: tap-sell
    capabilities: [state, catalog, discover, about, stream-maps]
    settings:
    - {{name: api_token, kind: string, sensitive: true}}
    - {{name: api_url, kind: string}}
    - {{name: start_date, kind: date_iso8601}}
    - {{name: requests_per_second, kind: decimal}}
    - {{name: user_agent, kind: string}}
    - {{name: verify_ssl, kind: boolean}}
    - {{name: ca_bundle, kind: string}}
    select: [contacts.*, leads.*, deals.*, stages.*]
    config:
      api_url: {api_url}
      requests_per_second: 0
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    pip_url: target-jsonl==0.1.4
    executable: target-jsonl
    config:
      destination_path: output
      do_timestamp_file: false
"""


def meltano(project: Path, *args: str, env: dict) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [MELTANO, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        raise AssertionError(f"meltano {' '.join(args)} failed:\n{tail}")
    return proc


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.e2e
def test_meltano_run_into_target_jsonl(tmp_path: Path) -> None:
    args = ["--seed", "50", "--rate-limit", "0", "--token", TOKEN]
    with running_sandbox("sell-sandbox", args) as sandbox:
        project = tmp_path / "project"
        (project / "output").mkdir(parents=True)
        (project / "meltano.yml").write_text(
            PROJECT.format(tap_dir=TAP_SELL_DIR, api_url=sandbox.base_url)
        )
        env = {
            **os.environ,
            "TAP_SELL_API_TOKEN": TOKEN,
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        env.pop("MELTANO_SYS_DIR_ROOT", None)
        env.pop("MELTANO_PROJECT_ROOT", None)
        meltano(project, "install", env=env)

        about = json.loads(
            meltano(project, "invoke", "tap-sell", "--about", "--format", "json", env=env).stdout
        )
        settings = about["settings"]["properties"]
        assert {"api_token", "api_url", "start_date", "requests_per_second"} <= set(settings)
        assert {"user_agent", "verify_ssl", "ca_bundle"} <= set(settings)
        assert settings["api_token"].get("secret") is True

        first = meltano(project, "run", "tap-sell", "target-jsonl", env=env)
        assert TOKEN not in first.stderr + first.stdout
        contacts = lines(project / "output" / "contacts.jsonl")
        assert len(contacts) == 50
        assert len({c["id"] for c in contacts}) == 50
        assert len(lines(project / "output" / "stages.jsonl")) == 7
        assert not (project / "output" / "users.jsonl").exists()  # not selected

        state = json.loads(
            meltano(project, "state", "get", "test:tap-sell-to-target-jsonl", env=env)
            .stdout.strip()
            .splitlines()[-1]
        )
        bookmark = state["singer_state"]["bookmarks"]["contacts"]
        assert bookmark["replication_key_value"] == max(c["updated_at"] for c in contacts)

        meltano(project, "run", "tap-sell", "target-jsonl", env=env)
        assert len(lines(project / "output" / "contacts.jsonl")) == 50  # nothing new appended
