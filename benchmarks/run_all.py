"""``make bench``: run every benchmark one after the other and print each table.

    .venv/bin/python benchmarks/run_all.py [--only NAME[,NAME]] [--sizes 1000,10000,100000]
        [--readme]

Benchmarks run in sequence (never in parallel: the machine has 2 cores) and each under a time
limit. ``--readme`` also writes the tables, each with the command that reproduces it, into the
block between ``<!-- benchmarks -->`` and ``<!-- /benchmarks -->`` of README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import ROOT, log, machine_line

HERE = Path(__file__).parent
PY = ".venv/bin/python"

# name -> (script and its arguments, time limit in seconds)
BENCHMARKS: dict[str, tuple[list[str], int]] = {
    "rate-limit": (["benchmarks/bench_rate_limit.py"], 900),
    "initial-sync": (["benchmarks/bench_initial_sync.py"], 1800),
    "no-change": (["benchmarks/bench_no_change.py"], 7200),  # a real 100,000 sync: ~38 min
    "peer-tap-sell": (["benchmarks/bench_peer_tap_sell.py"], 1800),
    "peer-tap-exchange": (["benchmarks/bench_peer_tap_exchange.py"], 900),
    # EWS vs Microsoft Graph on the same scenario or store, in one run (issue 14)
    "initial-sync-graph": (["benchmarks/bench_initial_sync.py", "--protocol", "both"], 1800),
    "no-change-graph": (
        ["benchmarks/bench_no_change.py", "--protocol", "both", "--real-sync-max", "10000"],
        7200,
    ),
    "read-graph": (
        ["benchmarks/bench_peer_tap_exchange.py", "--protocol", "both", "--seed", "10000"],
        900,
    ),
    "sell-sandbox": (["benchmarks/bench_sell_sandbox.py"], 300),
    "ews-sandbox": (["benchmarks/bench_ews_sandbox.py"], 600),
    "quiet-cycle": (["benchmarks/bench_quiet_cycle.py"], 900),
    "many-tenants": (["benchmarks/bench_many_tenants.py"], 3600),
}
START, END = "<!-- benchmarks -->", "<!-- /benchmarks -->"


def run(name: str, argv: list[str], limit: int) -> str:
    """One benchmark's stdout (its table); progress goes straight to our stderr."""
    log(f"{name}: {PY} {' '.join(argv)}")
    try:
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"**{name}: did not finish within {limit} s**\n"
    text = done.stdout
    if done.returncode != 0:
        text += f"\n**{name} exited with {done.returncode}** (goal missed or error; see stderr)\n"
    return text


def update_readme(sections: list[tuple[str, str]]) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = [f"Last run: {machine_line()}. Reproduce all with `make bench`.", ""]
    for command, table in sections:
        body += [f"`{command}`", "", table.strip(), ""]
    readme.write_text(head + START + "\n" + "\n".join(body) + END + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help=f"comma-separated subset of {list(BENCHMARKS)}")
    parser.add_argument("--sizes", default="", help="passed to the no-change benchmark")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    sections = []
    for name in chosen:
        argv, limit = BENCHMARKS[name]
        argv = list(argv)
        if name.startswith("no-change") and args.sizes:
            argv += ["--sizes", args.sizes]
        table = run(name, argv, limit)
        print(table, flush=True)
        sections.append((f"{PY} {' '.join(argv)}", table))
    if args.readme:
        update_readme(sections)


if __name__ == "__main__":
    main()
