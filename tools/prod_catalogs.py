"""Refresh (or check) the taps' catalogs the `prod` environment runs with.

A many-tenant orchestrator gives every run a fresh Meltano system directory (two tenants on one
machine must not share ``.meltano/run/``), so Meltano's catalog cache never hits and both taps
would run discovery on every run: two more Python processes per quiet cycle. The `prod`
environment therefore names a committed catalog per tap (``catalog:`` in meltano.yml), which is
what discovery plus the base plugins' ``select`` rules produce (``meltano invoke --dump=catalog``
under the `demo` environment, which has no custom catalog). ``--check`` exits 1 when a committed
catalog differs from that (used by the test suite): after changing a tap's streams or ``select``,
run ``make catalogs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "orchestration" / "catalogs"
TAPS = ("tap-exchange-contacts", "tap-sell")


def selected_catalog(tap: str) -> dict:
    """Discovery + the base plugin's select rules, as Meltano hands the catalog to the tap."""
    meltano = Path(sys.executable).with_name("meltano")
    with tempfile.TemporaryDirectory() as sys_dir:
        for kind in ("extractors", "loaders"):
            (Path(sys_dir) / kind).symlink_to(ROOT / ".meltano" / kind)
        env = {
            **os.environ,
            "MELTANO_SYS_DIR_ROOT": sys_dir,
            "MELTANO_DATABASE_URI": f"sqlite:///{sys_dir}/meltano.db",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        }
        out = subprocess.run(
            [str(meltano), "--environment=demo", "invoke", "--dump=catalog", tap],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a catalog is stale")
    args = parser.parse_args()
    stale = []
    for tap in TAPS:
        path = CATALOGS / f"{tap}.json"
        catalog = selected_catalog(tap)
        current = json.loads(path.read_text()) if path.exists() else None
        if current == catalog:
            continue
        if args.check:
            stale.append(tap)
            continue
        CATALOGS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(catalog, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale prod catalogs: {', '.join(stale)}; run `make catalogs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
