"""Benchmark (table 5): tap-sell against the peer extractor airbyte-source-zendesk-sell 0.2.14.

    .venv/bin/python benchmarks/bench_peer_tap_sell.py [--contacts 10000]

Both read the same ``contacts`` of one ``sell-sandbox --seed 10000 --rate-limit 0`` (tap-sell with
``requests_per_second: 0``, so neither is paced), one after the other in the same run; the table
shows wall time, records, Sell requests, peak RSS and the peer/tap-sell time ratio (goal ≥ 5).

The peer is installed into its own venv ``.bench/airbyte-venv`` (gitignored; created here with
pip when missing), never into the project venv, and pointed at the sandbox by
``benchmarks/peers/airbyte_sell_at.py`` (its packaged manifest with only ``url_base`` replaced).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

from common import (
    BIN,
    ROOT,
    TOKEN,
    log,
    print_table,
    run_processes,
    selected_catalog,
    sell_config,
    workdir,
)
from sandbox_common.process import running_sandbox
from sell_sandbox import tenant_key

PEER = "airbyte-source-zendesk-sell==0.2.14"
PEER_VENV = ROOT / ".bench" / "airbyte-venv"
PEER_RUNNER = Path(__file__).parent / "peers" / "airbyte_sell_at.py"
PYENV_ROOT = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")


def peer_base_python() -> str:
    """A Python the peer runs on: its pinned airbyte-cdk 1.0.0 fails to import on 3.11
    (a dataclass default that 3.11 rejects), although the package claims ``<3.12``."""
    for name in ("python3.10", "python3.9"):
        for candidate in (
            shutil.which(name),
            *glob.glob(f"{PYENV_ROOT}/versions/{name[6:]}*/bin/python"),
        ):
            if (
                candidate
                and subprocess.run([candidate, "-V"], capture_output=True, check=False).returncode
                == 0
            ):
                return candidate
    msg = "the peer needs Python 3.10 or 3.9 (airbyte-cdk 1.0.0 does not import on 3.11)"
    raise SystemExit(msg)


def ensure_peer() -> Path:
    """The peer's own interpreter, installing it on first use (kept out of the project venv)."""
    python = PEER_VENV / "bin" / "python"
    ok = python.exists() and (
        subprocess.run(
            [str(python), "-c", "import source_zendesk_sell"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not ok:
        log(f"installing {PEER} into {PEER_VENV}")
        subprocess.run(
            [peer_base_python(), "-m", "venv", "--clear", str(PEER_VENV)], check=True, timeout=300
        )
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER], check=True, timeout=900)
    return python


def count_records(path: Path, stream: str) -> int:
    """RECORD messages of ``stream`` in a Singer or Airbyte message file."""
    count = 0
    with path.open() as handle:
        for line in handle:
            if '"RECORD"' not in line:
                continue
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            inner = message.get("record", {})
            name = message.get("stream") or inner.get("stream")
            count += name == stream
    return count


def peer_catalog(python: Path, config: Path, out: Path, base_url: str) -> Path:
    """The peer's discovered catalog reduced to a full-refresh read of ``contacts``."""
    found = subprocess.run(
        [str(python), str(PEER_RUNNER), base_url, "discover", "--config", str(config)],
        capture_output=True,
        check=True,
        timeout=300,
        text=True,
    )
    streams = next(
        json.loads(line)["catalog"]["streams"]
        for line in found.stdout.splitlines()
        if line.startswith("{") and '"CATALOG"' in line
    )
    contacts = next(s for s in streams if s["name"] == "contacts")
    out.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "stream": contacts,
                        "sync_mode": "full_refresh",
                        "destination_sync_mode": "overwrite",
                    }
                ]
            }
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10000)
    args = parser.parse_args()
    python = ensure_peer()
    work = workdir("peer-tap-sell")
    with running_sandbox(
        "sell-sandbox", ["--token", TOKEN, "--seed", str(args.contacts), "--rate-limit", "0"]
    ) as sell:
        tap_config = work / "tap-sell.json"
        tap_config.write_text(json.dumps(sell_config(sell, requests_per_second=0)))
        peer_config = work / "airbyte.json"
        peer_config.write_text(json.dumps({"api_token": TOKEN}))
        tap_catalog = selected_catalog("tap-sell", tap_config, ["contacts"], work / "tap-cat.json")
        air_catalog = peer_catalog(python, peer_config, work / "air-cat.json", sell.base_url)
        runs = {
            "tap-sell": [
                str(BIN / "tap-sell"),
                "--config",
                str(tap_config),
                "--catalog",
                str(tap_catalog),
            ],
            PEER: [
                str(python),
                str(PEER_RUNNER),
                sell.base_url,
                "read",
                "--config",
                str(peer_config),
                "--catalog",
                str(air_catalog),
            ],
        }
        rows, seconds = [], {}
        for name, argv in runs.items():
            sell.reset()
            out = work / f"{name.split('=')[0]}.jsonl"
            result = run_processes([(name, argv)], log_dir=work, stdout_path=out, timeout=1800)
            stats = sell.stats()["by_tenant"].get(tenant_key(TOKEN), {})
            records = count_records(out, "contacts")
            seconds[name] = result.seconds
            log(f"{name}: {result.seconds:.1f}s, {records} records, rc {result.ok}")
            rows.append(
                [
                    name,
                    f"{result.seconds:.1f}",
                    f"{records:,}",
                    f"{stats.get('total_reads', 0):,}",
                    f"{result.processes[0].max_rss_mb:.0f}",
                    "ok" if result.ok else f"exit {result.processes[0].returncode}",
                ]
            )
    ratio = seconds[PEER] / seconds["tap-sell"]
    rows.append(["**peer time / tap-sell time**", f"**{ratio:.1f}x**", "", "", "", "goal ≥ 5x"])
    print_table(
        f"Table 5 - reading {args.contacts:,} Sell contacts: tap-sell vs {PEER}",
        ["extractor", "wall s", "contacts read", "Sell requests", "peak RSS MB", "exit"],
        rows,
    )


if __name__ == "__main__":
    main()
