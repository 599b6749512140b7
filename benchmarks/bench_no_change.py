"""Benchmark (tables 3 and 4): a run with no changes must cost the same at any size (SPEC S9).

    .venv/bin/python benchmarks/bench_no_change.py [--sizes 1000,10000,100000]

For each size N: ``ews-sandbox --seed N`` and ``sell-sandbox --seed N --rate-limit 0`` (N contacts
per side, plus Sell's N/4 seeded leads), a real initial two-way sync (both directions), a second
pass that absorbs the sync's own writes (S7.1), then the measured third pass with no changes.
Prints the requests (each system) and seconds of the no-change run per direction, and the peak
RSS of each of the four plugin processes in the initial and the no-change runs.

Every size is reached by a real initial sync by default (100,000 per side takes about 35 minutes
on 2 cores: ~370 s Exchange → Sell, ~610 s Sell → Exchange, ~800 s for the second pass that reads
back every contact the first one wrote). ``--real-sync-max N`` primes sizes above N instead, for a
quick look: each tap reads its whole system once (its records discarded, its final STATE kept, as
Meltano would store it) and the measured run is tap (with that state) → target with an empty
ledger; rows say "(primed)". ``--sell-seed-max`` caps the Sell side (rows then say
"100,000 / 10,000 Sell").
"""

from __future__ import annotations

import argparse

from common import (
    RUN_TIMEOUT_S,
    PluginConfigs,
    RunResult,
    directions,
    log,
    print_table,
    sandboxes,
    select_streams,
    workdir,
)

PLUGINS = ("tap-exchange-contacts", "target-sell-contacts", "tap-sell", "target-exchange")


def label(res: dict) -> str:
    """'10,000', or '100,000 / 10,000 Sell (primed)' when a side or the sync was cut short."""
    text = f"{res['size']:,}"
    if res.get("sell_size", res["size"]) != res["size"]:
        text += f" / {res['sell_size']:,} Sell"
    return text if res.get("real_sync", True) else text + " (primed)"


def measure(boxes, direction, timeout: float) -> tuple[RunResult, tuple[int, int], tuple[int, int]]:
    """One run of ``direction`` with the request counts it caused on each system."""
    boxes.reset()
    result = direction.run(timeout=timeout)
    return result, boxes.sell_requests(), boxes.ews_requests()


def one_size(size: int, *, real_sync: bool, sell_size: int, timeout: float) -> dict:
    work = workdir(f"no-change-{size}")
    sell_args = ["--seed", str(sell_size), "--rate-limit", "0"]
    with sandboxes(sell_args, ["--seed", str(size)]) as boxes:
        configs = PluginConfigs.write(work, boxes)
        to_sell, to_exchange = directions(configs)
        select_streams(configs, to_sell, to_exchange)
        out: dict = {"size": size, "passes": [], "real_sync": real_sync, "sell_size": sell_size}
        if not real_sync:
            for direction in (to_sell, to_exchange):
                seconds = direction.prime()
                log(f"N={size} primed {direction.name} by a tap-only read in {seconds:.1f}s")
        for number in (1, 2, 3) if real_sync else (3,):
            row = {}
            for direction in (to_sell, to_exchange):
                result, sell, ews = measure(boxes, direction, timeout)
                row[direction.name] = (result, sell, ews)
                log(
                    f"N={size} pass {number} {direction.name}: {result.seconds:.1f}s "
                    f"({result.cpu_s:.1f} CPU-s) "
                    f"sell r/w {sell} ews r/w {ews} rss "
                    + ", ".join(f"{p.name} {p.max_rss_mb:.0f}MB" for p in result.processes)
                )
            out["passes"].append(row)
    if not real_sync:  # keep pass indexes: [0] initial, [2] no-change
        out["passes"] = [None, None, out["passes"][0]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument(
        "--real-sync-max",
        type=int,
        default=1_000_000,
        help="largest size reached by a real initial sync; larger sizes are primed by tap reads",
    )
    parser.add_argument(
        "--sell-seed-max",
        type=int,
        default=1_000_000,
        help="largest Sell seed; larger sizes seed the Sell side with this many",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=RUN_TIMEOUT_S,
        help="seconds one tap | target run may take",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for size in sizes:
        try:
            sell_size = min(size, args.sell_seed_max)
            results.append(
                one_size(
                    size,
                    real_sync=size <= args.real_sync_max,
                    sell_size=sell_size,
                    timeout=args.run_timeout,
                )
            )
        except (TimeoutError, RuntimeError) as exc:  # a size that cannot be reached is reported
            log(f"N={size} not reached: {exc}")
            results.append({"size": size, "error": str(exc).split(";")[0]})
    reached = [r for r in results if "error" not in r]

    cost_rows = []
    for res in results:
        if "error" in res:
            cost_rows.append(
                [f"{res['size']:,}", "both", "-", "-", f"not reached: {res['error']}", "-"]
            )
            continue
        for name in ("exchange-to-sell", "sell-to-exchange"):
            result, sell, ews = res["passes"][2][name]
            cost_rows.append(
                [
                    label(res),
                    name,
                    f"{sell[0]} / {sell[1]}",
                    f"{ews[0]} / {ews[1]}",
                    f"{result.seconds:.1f}",
                    f"{result.cpu_s:.1f}",
                ]
            )
    primed = any(not r.get("real_sync", True) for r in results if "error" not in r)
    print_table(
        "Table 3 - cost of a run with no changes (3rd pass after a real initial sync"
        + ("; primed rows: taps read once, empty ledger, see the script)" if primed else ")"),
        [
            "contacts per side",
            "direction",
            "Sell reads / writes",
            "EWS reads / writes",
            "seconds",
            "CPU-s (tap + target)",
        ],
        cost_rows,
    )

    if not reached:
        return
    base = reached[0]
    rss_rows = []
    for plugin in PLUGINS:
        direction = "exchange-to-sell" if plugin in PLUGINS[:2] else "sell-to-exchange"
        cells = [plugin]
        base_rss = base["passes"][2][direction][0].rss(plugin)
        for res in reached:
            quiet = res["passes"][2][direction][0].rss(plugin)
            initial = (
                f"{res['passes'][0][direction][0].rss(plugin):.0f}" if res["real_sync"] else "-"
            )
            cells.append(f"{initial} / {quiet:.0f} ({quiet / base_rss:.2f}x)")
        rss_rows.append(cells)
    print_table(
        "Table 4 - peak RSS in MB, initial run / no-change run "
        f"(no-change ratio to {base['size']:,} contacts)",
        [
            "plugin",
            *[label(r) for r in reached],
        ],
        rss_rows,
    )


if __name__ == "__main__":
    main()
