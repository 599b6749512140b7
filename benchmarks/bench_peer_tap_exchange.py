"""Benchmark (table 6): tap-exchange-contacts against a naive exchangelib ``folder.all()`` loop.

    .venv/bin/python benchmarks/bench_peer_tap_exchange.py [--seed 5000]

Both read the same ``ews-sandbox --seed 5000`` mailbox, one after the other in the same run: the tap
(``contacts`` stream, categories Clients/Partners/VIP, as a first run with no state) and
``benchmarks/peers/naive_exchangelib.py`` (every private contact folder, ``.all()``, all fields).
The table shows wall time, items, EWS requests, peak RSS and the naive/tap time ratio (goal > 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import (
    BIN,
    CATEGORIES,
    MAILBOX,
    PASSWORD,
    exchange_config,
    log,
    print_table,
    run_processes,
    selected_catalog,
    workdir,
)
from sandbox_common.process import running_sandbox

NAIVE = Path(__file__).parent / "peers" / "naive_exchangelib.py"


def count_records(path: Path) -> int:
    with path.open() as handle:
        return sum(
            1 for line in handle if line.startswith('{"type":"RECORD"') or '"RECORD"' in line
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=5000)
    args = parser.parse_args()
    work = workdir("peer-tap-exchange")
    with running_sandbox(
        "ews-sandbox", ["--mailbox", f"{MAILBOX}:{PASSWORD}", "--seed", str(args.seed)], timeout=600
    ) as ews:
        tap_config = work / "tap-exchange.json"
        tap_config.write_text(json.dumps(exchange_config(ews) | {"categories": CATEGORIES}))
        catalog = selected_catalog(
            "tap-exchange-contacts", tap_config, ["contacts"], work / "catalog.json"
        )
        endpoint = f"{ews.base_url}/EWS/Exchange.asmx"
        runs = {
            "tap-exchange-contacts": [
                str(BIN / "tap-exchange-contacts"),
                "--config",
                str(tap_config),
                "--catalog",
                str(catalog),
            ],
            "naive exchangelib folder.all()": [
                sys.executable,
                str(NAIVE),
                endpoint,
                MAILBOX,
                PASSWORD,
            ],
        }
        rows, seconds = [], {}
        for name, argv in runs.items():
            ews.reset()
            out = work / f"{name.split()[0]}.out"
            result = run_processes([(name, argv)], log_dir=work, stdout_path=out, timeout=1800)
            stats = ews.stats()["by_tenant"].get(MAILBOX, {})
            if name.startswith("tap"):
                items = f"{count_records(out):,} records (in scope)"
            else:
                summary = json.loads(out.read_text().strip().splitlines()[-1])
                items = f"{summary['items']:,} items, {summary['folders']} folders"
            seconds[name] = result.seconds
            log(f"{name}: {result.seconds:.1f}s, {items}")
            ops = stats.get("reads", {})
            rows.append(
                [
                    name,
                    f"{result.seconds:.1f}",
                    items,
                    f"{stats.get('total_reads', 0):,}",
                    ", ".join(f"{op} {n}" for op, n in sorted(ops.items())),
                    f"{result.processes[0].max_rss_mb:.0f}",
                    "ok" if result.ok else f"exit {result.processes[0].returncode}",
                ]
            )
    ratio = seconds["naive exchangelib folder.all()"] / seconds["tap-exchange-contacts"]
    rows.append(["**naive time / tap time**", f"**{ratio:.2f}x**", "", "", "", "", "goal ≥ 2x"])
    print_table(
        f"Table 6 - reading the --seed {args.seed} mailbox: "
        "tap-exchange-contacts vs naive exchangelib",
        ["reader", "wall s", "items", "EWS requests", "by operation", "peak RSS MB", "exit"],
        rows,
    )


if __name__ == "__main__":
    main()
