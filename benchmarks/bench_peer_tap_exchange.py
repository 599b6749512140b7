"""Benchmark (tables 6 and 12): tap-exchange-contacts against a naive exchangelib loop, and
over Microsoft Graph against over EWS.

    .venv/bin/python benchmarks/bench_peer_tap_exchange.py [--seed 5000]
    .venv/bin/python benchmarks/bench_peer_tap_exchange.py --protocol both --seed 10000 [--repeat 3]

Both read the same ``ews-sandbox --seed 5000`` mailbox, one after the other in the same run: the tap
(``contacts`` stream, categories Clients/Partners/VIP, as a first run with no state) and
``benchmarks/peers/naive_exchangelib.py`` (every private contact folder, ``.all()``, all fields).
The table shows wall time, items, EWS requests, peak RSS and the naive/tap time ratio (goal > 1).

``--protocol both`` (table 12) reads one ``exchange-sandbox --tls --app --seed N`` store with the
tap over EWS and over Graph (both over https), alternately ``--repeat`` times, as a first run with
no state, and shows the median wall and CPU seconds, the requests and the Graph/EWS ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import (
    BIN,
    CATEGORIES,
    MAILBOX,
    PASSWORD,
    PROTOCOLS,
    exchange_config,
    exchange_sandbox,
    log,
    mailbox_requests,
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


def tap_argv(work: Path, config: dict, name: str) -> list[str]:
    """The tap's command line for ``config`` (contacts stream selected, no state)."""
    path = work / f"tap-{name}.json"
    path.write_text(json.dumps(config | {"categories": CATEGORIES}))
    catalog = selected_catalog(
        "tap-exchange-contacts", path, ["contacts"], work / f"catalog-{name}.json"
    )
    return [str(BIN / "tap-exchange-contacts"), "--config", str(path), "--catalog", str(catalog)]


def protocols_table(seed: int, repeat: int) -> None:
    """Table 12: the tap's first read of one store over EWS and over Graph, median of runs."""
    work = workdir("tap-exchange-protocols")
    runs: dict[str, list[dict]] = {protocol: [] for protocol in PROTOCOLS}
    with exchange_sandbox(["--seed", str(seed)], graph=True) as exchange:
        argvs = {p: tap_argv(work, exchange_config(exchange, p), p) for p in PROTOCOLS}
        for number in range(repeat):
            for protocol in PROTOCOLS:  # alternated, so the machine's load falls on both alike
                exchange.reset()
                out = work / f"{protocol}-{number}.out"
                result = run_processes(
                    [(protocol, argvs[protocol])], log_dir=work, stdout_path=out, timeout=1800
                )
                if not result.ok:
                    msg = f"the tap over {protocol} failed; logs in {work}"
                    raise RuntimeError(msg)
                requests = mailbox_requests(exchange, protocol)
                run = {
                    "seconds": result.seconds,
                    "cpu_s": result.cpu_s,
                    "rss": result.processes[0].max_rss_mb,
                    "records": count_records(out),
                    "requests": requests,
                }
                runs[protocol].append(run)
                log(
                    f"{protocol} run {number + 1}: {result.seconds:.1f}s {result.cpu_s:.1f} CPU-s "
                    f"{run['records']:,} records, {requests}"
                )
    medians = {
        p: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "cpu_s", "rss")}
        for p, rs in runs.items()
    }
    rows = []
    for protocol, rs in runs.items():
        requests = rs[-1]["requests"]
        ops = ", ".join(
            f"{op.replace('/v1.0/users/{id}', '…')} {n}"
            for op, n in sorted(requests.by_operation.items())
        )
        rows.append(
            [
                "EWS" if protocol == "ews" else "Microsoft Graph",
                f"{medians[protocol]['seconds']:.1f}",
                f"{medians[protocol]['cpu_s']:.1f}",
                f"{rs[-1]['records']:,}",
                f"{requests.total:,}"
                + (f" (+{requests.batched:,} sub-requests)" if requests.batched else ""),
                ops,
                f"{medians[protocol]['rss']:.0f}",
            ]
        )
    ews, graph = medians["ews"], medians["graph"]
    rows.append(
        [
            "**Graph / EWS**",
            f"**{graph['seconds'] / ews['seconds']:.2f}x**",
            f"**{graph['cpu_s'] / ews['cpu_s']:.2f}x**",
            "",
            f"{runs['graph'][-1]['requests'].total / runs['ews'][-1]['requests'].total:.2f}x",
            "",
            f"{graph['rss'] / ews['rss']:.2f}x",
        ]
    )
    print_table(
        f"Table 12 - tap-exchange-contacts reading the --seed {seed:,} store over EWS and over "
        f"Microsoft Graph (first run, no state; median of {repeat})",
        ["protocol", "wall s", "CPU-s", "records", "requests", "by operation", "peak RSS MB"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument(
        "--protocol",
        choices=("ews", "both"),
        default="ews",
        help="ews: the tap against naive exchangelib; both: the tap over EWS and over Graph",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per protocol (--protocol both)")
    args = parser.parse_args()
    if args.protocol == "both":
        protocols_table(args.seed, args.repeat)
        return
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
