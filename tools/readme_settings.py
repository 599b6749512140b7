"""Refresh (or check) the per-plugin settings tables in README.md from each plugin's ``--about``.

The tables are the SDK's own ``--about --format=markdown`` output, so README cannot drift from
what the plugins accept. ``--check`` exits 1 when README is stale (used by the test suite).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("tap-exchange-contacts", "tap-sell", "target-sell-contacts", "target-exchange")


def settings_table(plugin: str) -> str:
    exe = Path(sys.executable).with_name(plugin)
    about = subprocess.run(
        [str(exe), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"## Settings\n\n(\|.*?)\n\n", about + "\n\n", re.DOTALL)
    if not match:
        msg = f"{plugin} --about has no settings table"
        raise SystemExit(msg)
    return match.group(1).strip()


def refreshed(text: str) -> str:
    for plugin in PLUGINS:
        name = re.escape(plugin)
        pattern = re.compile(
            rf"(<!-- settings:{name} -->\n)(?:.*?\n)?(<!-- /settings:{name} -->)", re.DOTALL
        )
        if not pattern.search(text):
            msg = f"README.md lacks the markers for {plugin}"
            raise SystemExit(msg)
        table = settings_table(plugin)
        text = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    current = readme.read_text()
    new = refreshed(current)
    if args.check:
        if new != current:
            print("README.md settings tables are stale: run `make readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
