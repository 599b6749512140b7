"""Benchmark (tables 3 and 4): a run with no changes must cost the same at any size (SPEC S9).

    .venv/bin/python benchmarks/bench_no_change.py [--sizes 1000,10000,100000]
        [--protocol ews|graph|both]

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
ledger, run twice (the first makes the master categories a first target run makes); rows say
"(primed)". ``--sell-seed-max`` caps the Sell side (rows then say
"100,000 / 10,000 Sell").

``--protocol graph`` runs both Exchange plugins over Microsoft Graph (``exchange-sandbox --tls
--app``), ``both`` runs every size over EWS and then over Graph (two sandboxes seeded alike), and
adds table 11: a quiet run's Graph requests of each Exchange plugin against SPEC S9's goal over
Graph, one ``delta`` call per private folder plus at most 2. Over Graph the sandbox runs with
``--graph-budget 0``: the set-up sync would otherwise wait out Outlook's per-mailbox budget.
"""

from __future__ import annotations

import argparse

from common import (
    RUN_TIMEOUT_S,
    Direction,
    ExchangeRequests,
    PluginConfigs,
    RunResult,
    Sandboxes,
    add_protocol_option,
    directions,
    log,
    print_table,
    protocols_of,
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


def measure(
    boxes: Sandboxes, direction: Direction, timeout: float
) -> tuple[RunResult, tuple[int, int], ExchangeRequests]:
    """One run of ``direction`` with the request counts it caused on each system."""
    boxes.reset()
    result = direction.run(timeout=timeout)
    return result, boxes.sell_requests(), boxes.exchange_requests()


def private_folders(state: dict | None) -> int:
    """Folders the tap keeps a sync state for: the private contact folders it read (S1.1)."""
    bookmarks = (state or {}).get("bookmarks", {}).get("contacts", {})
    return len(bookmarks.get("folders", {}))


def one_size(size: int, *, protocol: str, real_sync: bool, sell_size: int, timeout: float) -> dict:
    work = workdir(f"no-change-{protocol}-{size}")
    sell_args = ["--seed", str(sell_size), "--rate-limit", "0"]
    # The set-up sync writes far more than Outlook's 10,000 Graph requests per 10 minutes at
    # 10,000 contacts; the budget is lifted so it is not minutes of Retry-After (not measured).
    exchange_args = ["--seed", str(size), *(["--graph-budget", "0"] if protocol == "graph" else [])]
    with sandboxes(sell_args, exchange_args, protocol=protocol) as boxes:
        configs = PluginConfigs.write(work, boxes)
        to_sell, to_exchange = directions(configs)
        select_streams(configs, to_sell, to_exchange)
        out: dict = {
            "size": size,
            "protocol": protocol,
            "passes": [],
            "real_sync": real_sync,
            "sell_size": sell_size,
        }
        if not real_sync:
            for direction in (to_sell, to_exchange):
                seconds = direction.prime()
                log(f"N={size} primed {direction.name} by a tap-only read in {seconds:.1f}s")
        # Primed: pass 2 makes what a first target run makes anyway (the master categories),
        # so pass 3 is quiet as after a real sync.
        for number in (1, 2, 3) if real_sync else (2, 3):
            row = {}
            for direction in (to_sell, to_exchange):
                result, sell, exchange = measure(boxes, direction, timeout)
                row[direction.name] = (result, sell, exchange)
                log(
                    f"{protocol} N={size} pass {number} {direction.name}: {result.seconds:.1f}s "
                    f"({result.cpu_s:.1f} CPU-s) sell r/w {sell} {protocol} r/w "
                    f"{exchange.reads}/{exchange.writes} ({exchange.batched} batched, "
                    f"{exchange.throttled} x 429) rss "
                    + ", ".join(f"{p.name} {p.max_rss_mb:.0f}MB" for p in result.processes)
                )
            out["passes"].append(row)
        out["folders"] = private_folders(to_sell.state)
    if not real_sync:  # keep pass indexes: [0] initial, [2] no-change
        out["passes"] = [None, *out["passes"]]
    return out


def short_operation(operation: str) -> str:
    """``GET /users/{id}/contactFolders/{id}/contacts/delta`` -> ``GET …/contacts/delta``."""
    method, _, path = operation.partition(" ")
    if not path:
        return operation
    tail = "/".join(path.split("/")[-2:]) if path.count("/") > 2 else path.lstrip("/")
    return f"{method} …/{tail}" if path.count("/") > 2 else f"{method} /{tail}"


def by_operation(requests: ExchangeRequests) -> str:
    ops = sorted(requests.by_operation.items())
    return ", ".join(f"{short_operation(op)} {n}" for op, n in ops)


def cost_table(results: list[dict], protocols: list[str]) -> None:
    """Table 3: the no-change pass of each size (and protocol)."""
    plain = protocols == ["ews"]
    rows = []
    for res in results:
        lead = [] if plain else [res.get("protocol", "")]
        if "error" in res:
            rows.append(
                [*lead, f"{res['size']:,}", "both", "-", "-", f"not reached: {res['error']}", "-"]
            )
            continue
        for name in ("exchange-to-sell", "sell-to-exchange"):
            result, sell, exchange = res["passes"][2][name]
            rows.append(
                [
                    *lead,
                    label(res),
                    name,
                    f"{sell[0]} / {sell[1]}",
                    f"{exchange.reads} / {exchange.writes}",
                    f"{result.seconds:.1f}",
                    f"{result.cpu_s:.1f}",
                ]
            )
    primed = any(not r.get("real_sync", True) for r in results if "error" not in r)
    print_table(
        "Table 3 - cost of a run with no changes (3rd pass after a real initial sync"
        + ("; primed rows: taps read once, empty ledger, see the script)" if primed else ")"),
        [
            *([] if plain else ["protocol"]),
            "contacts per side",
            "direction",
            "Sell reads / writes",
            "EWS reads / writes" if plain else "Exchange reads / writes",
            "seconds",
            "CPU-s (tap + target)",
        ],
        rows,
    )


def rss_table(reached: list[dict], protocols: list[str]) -> None:
    """Table 4: peak RSS per plugin, the no-change ratio to the same protocol's first size."""
    plain = protocols == ["ews"]
    bases = {}
    for res in reached:
        bases.setdefault(res["protocol"], res)
    rows = []
    for plugin in PLUGINS:
        direction = "exchange-to-sell" if plugin in PLUGINS[:2] else "sell-to-exchange"
        cells = [plugin]
        for res in reached:
            base_rss = bases[res["protocol"]]["passes"][2][direction][0].rss(plugin)
            quiet = res["passes"][2][direction][0].rss(plugin)
            initial = (
                f"{res['passes'][0][direction][0].rss(plugin):.0f}" if res["real_sync"] else "-"
            )
            cells.append(f"{initial} / {quiet:.0f} ({quiet / base_rss:.2f}x)")
        rows.append(cells)
    first = reached[0]["size"]
    print_table(
        "Table 4 - peak RSS in MB, initial run / no-change run "
        f"(no-change ratio to {first:,} contacts{'' if plain else ', same protocol'})",
        ["plugin", *[label(r) + ("" if plain else f" {r['protocol']}") for r in reached]],
        rows,
    )


def graph_quiet_table(reached: list[dict]) -> None:
    """Table 11: each Exchange plugin's Graph requests in a quiet run against the goal."""
    graph = [r for r in reached if r["protocol"] == "graph"]
    if not graph:
        return
    base = graph[0]["passes"][2]
    rows = []
    for res in graph:
        goal = res["folders"] + 2
        for plugin, name in (
            ("tap-exchange-contacts", "exchange-to-sell"),
            ("target-exchange", "sell-to-exchange"),
        ):
            result, _, exchange = res["passes"][2][name]
            cpu = next(p.cpu_s for p in result.processes if p.name == plugin)
            base_cpu = next(p.cpu_s for p in base[name][0].processes if p.name == plugin)
            rows.append(
                [
                    label(res),
                    plugin,
                    f"{exchange.total} (+{exchange.batched} sub-requests)",
                    by_operation(exchange),
                    f"≤ {goal} ({res['folders']} folders + 2)",
                    "met" if exchange.total <= goal else "**not met**",
                    f"{cpu:.2f} ({cpu / base_cpu:.2f}x)",
                ]
            )
    print_table(
        "Table 11 - a quiet run over Microsoft Graph: requests of each Exchange plugin "
        f"(CPU ratio to {graph[0]['size']:,} contacts)",
        [
            "contacts per side",
            "plugin",
            "Graph requests",
            "by operation",
            "goal",
            "goal met",
            "plugin CPU-s",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    add_protocol_option(parser, "every size")
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
    protocols = protocols_of(args.protocol)
    results = []
    for protocol in protocols:
        for size in sizes:
            try:
                results.append(
                    one_size(
                        size,
                        protocol=protocol,
                        real_sync=size <= args.real_sync_max,
                        sell_size=min(size, args.sell_seed_max),
                        timeout=args.run_timeout,
                    )
                )
            except (TimeoutError, RuntimeError) as exc:  # a size not reached is reported
                log(f"{protocol} N={size} not reached: {exc}")
                results.append(
                    {"size": size, "protocol": protocol, "error": str(exc).split(";")[0]}
                )
    reached = [r for r in results if "error" not in r]
    cost_table(results, protocols)
    if reached:
        rss_table(reached, protocols)
        graph_quiet_table(reached)


if __name__ == "__main__":
    main()
