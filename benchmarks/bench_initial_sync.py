"""Benchmark (tables 2 and 10): requests per synced contact in an initial two-way sync with overlap.

    .venv/bin/python benchmarks/bench_initial_sync.py [--contacts 5000] [--protocol ews|graph|both]

Set-up (not measured): ``ews-sandbox --seed 5000`` (5,000 contacts in the mailbox) and an empty
``sell-sandbox --rate-limit 0`` into which 5,000 contacts are created through the API: half of
them carry the e-mail and name of an Exchange contact (contacts in the synced categories first),
half are Sell-only. Then the real initial two-way sync, each direction once, as the
``two-way-sync`` job runs them (Exchange → Sell, then Sell → Exchange); requests come from each
sandbox's ``/_sandbox/stats`` and contacts from each target's run report.

``--protocol graph`` runs both Exchange plugins over Microsoft Graph (``exchange-sandbox --tls
--app``); ``both`` runs the scenario over EWS and then over Graph, each on its own pair of
sandboxes seeded alike, and prints table 10: a ``$batch`` counts as one request, its
sub-requests are shown apart, and EWS is the baseline of the Graph/EWS ratios.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor

from common import (
    CATEGORIES,
    MAILBOX,
    PASSWORD,
    TOKEN,
    PluginConfigs,
    add_protocol_option,
    directions,
    log,
    print_table,
    protocols_of,
    read_report,
    sandboxes,
    select_streams,
    workdir,
)
from exchangelib import DELEGATE, Account, Build, Configuration, Credentials, Version
from sell_sandbox.client import SellSandboxClient


def exchange_people(endpoint: str, cafile: str | None = None) -> list[dict]:
    """E-mail and names of the mailbox's private contacts, those in the synced categories first
    (read over EWS, which the sandbox serves beside Graph; ``cafile``: its https CA)."""
    if cafile:
        os.environ["REQUESTS_CA_BUNDLE"] = cafile  # exchangelib's requests session reads it
    config = Configuration(
        service_endpoint=endpoint,
        credentials=Credentials(MAILBOX, PASSWORD),
        version=Version(Build(15, 1, 2507, 6)),
    )
    account = Account(MAILBOX, config=config, autodiscover=False, access_type=DELEGATE)
    folders = [account.contacts] + [
        f for f in account.contacts.walk() if getattr(f, "folder_class", None) == "IPF.Contact"
    ]
    people = []
    for folder in folders:
        for item in folder.all().only("email_addresses", "given_name", "surname", "categories"):
            emails = [e.email for e in (getattr(item, "email_addresses", None) or []) if e.email]
            if emails and getattr(item, "surname", None):
                in_scope = bool(set(item.categories or []) & set(CATEGORIES))
                people.append(
                    {
                        "email": emails[0],
                        "first_name": item.given_name,
                        "last_name": item.surname,
                        "in_scope": in_scope,
                    }
                )
    seen, unique = set(), []
    for person in sorted(people, key=lambda p: not p["in_scope"]):
        if person["email"].lower() not in seen:
            seen.add(person["email"].lower())
            unique.append(person)
    return unique


def create_sell_contacts(base_url: str, people: list[dict]) -> None:
    sell = SellSandboxClient(base_url, TOKEN, user_agent="bench-setup")

    def create(person: dict) -> None:
        data = {k: person[k] for k in ("first_name", "last_name", "email") if person.get(k)}
        sell.create("contacts", **data)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, people))


def stream_sum(report: dict, key: str) -> int:
    return sum(int(s.get(key, 0)) for s in report.get("streams", {}).values())


OUTCOMES = ("created", "updated", "matched", "unchanged", "echoes_skipped", "rejected")


def one_protocol(protocol: str, contacts: int) -> tuple[list[dict], dict]:
    """The scenario over ``protocol``: each direction's counts, and the set-up it measured."""
    work = workdir(f"initial-sync-{protocol}")
    half = contacts // 2
    with sandboxes(["--rate-limit", "0"], ["--seed", str(contacts)], protocol=protocol) as boxes:
        people = exchange_people(f"{boxes.ews.base_url}/EWS/Exchange.asmx", boxes.ews.cafile)
        overlap = people[:half]
        in_scope_overlap = sum(p["in_scope"] for p in overlap)
        sell_only = [
            {
                "first_name": f"Sell{i}",
                "last_name": f"Only{i % 71}",
                "email": f"sell{i}@example.org",
            }
            for i in range(contacts - len(overlap))
        ]
        create_sell_contacts(boxes.sell.base_url, overlap + sell_only)
        log(
            f"{protocol} set-up: {len(overlap)} overlapping ({in_scope_overlap} in synced "
            f"categories) + {len(sell_only)} Sell-only contacts created"
        )
        configs = PluginConfigs.write(work, boxes)
        to_sell, to_exchange = directions(configs)
        select_streams(configs, to_sell, to_exchange)
        rows = []
        for direction, report_path in (
            (to_sell, configs.work / "report-target-sell.json"),
            (to_exchange, configs.work / "report-target-exchange.json"),
        ):
            boxes.reset()
            result = direction.run()
            sell, exchange = boxes.sell_requests(), boxes.exchange_requests()
            report = read_report(report_path)
            synced = stream_sum(report, "received") - stream_sum(report, "deletions_seen")
            outcome = ", ".join(f"{key} {stream_sum(report, key)}" for key in OUTCOMES)
            log(
                f"{protocol} {direction.name}: {result.seconds:.1f}s ({result.cpu_s:.1f} CPU-s) "
                f"sell {sell} {protocol} {exchange}; {outcome}"
            )
            rows.append(
                {
                    "protocol": protocol,
                    "direction": direction.name,
                    "synced": synced,
                    "outcome": outcome,
                    "sell": sell,
                    "exchange": exchange,
                    "seconds": result.seconds,
                    "cpu_s": result.cpu_s,
                }
            )
    return rows, {"overlap": len(overlap), "in_scope": in_scope_overlap}


def per(count: float, contacts: int) -> str:
    return f"{count / max(contacts, 1):.3f}"


def total_row(rows: list[dict]) -> dict:
    synced = sum(r["synced"] for r in rows)
    return {
        "protocol": rows[0]["protocol"],
        "direction": "**both directions**",
        "synced": synced,
        "outcome": "",
        "sell": tuple(sum(r["sell"][i] for r in rows) for i in (0, 1)),
        "requests": sum(r["exchange"].total for r in rows),
        "writes": sum(r["exchange"].writes for r in rows),
        "batched": sum(r["exchange"].batched for r in rows),
        "batched_writes": sum(r["exchange"].batched_writes for r in rows),
        "throttled": sum(r["exchange"].throttled for r in rows),
        "seconds": sum(r["seconds"] for r in rows),
        "cpu_s": sum(r["cpu_s"] for r in rows),
    }


def flat(row: dict) -> dict:
    if "exchange" not in row:
        return row
    exchange = row["exchange"]
    return row | {
        "requests": exchange.total,
        "writes": exchange.writes,
        "batched": exchange.batched,
        "batched_writes": exchange.batched_writes,
        "throttled": exchange.throttled,
    }


def ews_table(rows: list[dict], contacts: int, setup: dict) -> None:
    """Table 2, as before: one protocol (EWS by default)."""
    cells = []
    for row in [*map(flat, rows), total_row(rows)]:
        bold = row["direction"].startswith("**")
        per_sell, per_exchange = (
            per(sum(row["sell"]), row["synced"]),
            per(row["requests"], row["synced"]),
        )
        cells.append(
            [
                row["direction"],
                f"{row['synced']:,}",
                row["outcome"],
                f"{sum(row['sell']):,}" + ("" if bold else f" ({row['sell'][1]:,} writes)"),
                f"**{per_sell}**" if bold else per_sell,
                f"{row['requests']:,}" + ("" if bold else f" ({row['writes']:,} writes)"),
                f"**{per_exchange}**" if bold else per_exchange,
                f"{row['seconds']:.0f}",
            ]
        )
    protocol = "EWS" if rows[0]["protocol"] == "ews" else "Graph"
    print_table(
        f"Table 2 - initial two-way sync, {contacts:,} Exchange + {contacts:,} Sell "
        f"contacts, {setup['overlap']:,} sharing an e-mail ({setup['in_scope']:,} of them in the "
        "synced categories)" + ("" if protocol == "EWS" else " - over Microsoft Graph"),
        [
            "direction",
            "records synced",
            "target outcome",
            "Sell requests",
            "Sell req / contact",
            f"{protocol} requests",
            f"{protocol} req / contact",
            "seconds",
        ],
        cells,
    )


def versus_table(by_protocol: dict[str, list[dict]], contacts: int, setup: dict) -> None:
    """Table 10: the same scenario over EWS and over Graph, Graph/EWS per contact."""
    cells, totals = [], {}
    for protocol, rows in by_protocol.items():
        totals[protocol] = total_row(rows)
        for row in [*map(flat, rows), totals[protocol]]:
            cells.append(
                [
                    "EWS" if protocol == "ews" else "Graph",
                    row["direction"],
                    f"{row['synced']:,}",
                    f"{row['requests'] - row['writes']:,} / {row['writes']:,}",
                    f"{row['batched'] - row['batched_writes']:,} / {row['batched_writes']:,}"
                    if protocol == "graph"
                    else "-",
                    per(row["requests"] - row["writes"], row["synced"]),
                    per(row["writes"], row["synced"]),
                    f"{row['throttled']}" if protocol == "graph" else "-",
                    f"{sum(row['sell']):,}",
                    f"{row['seconds']:.0f}",
                    f"{row['cpu_s']:.1f}",
                ]
            )
    ews, graph = totals["ews"], totals["graph"]
    cells.append(
        [
            "**Graph / EWS**",
            "both directions",
            "",
            f"{graph['requests'] / max(ews['requests'], 1):.2f}x requests",
            "",
            "",
            f"{graph['writes'] / max(ews['writes'], 1):.2f}x writes",
            "",
            f"{sum(graph['sell']) / max(sum(ews['sell']), 1):.2f}x",
            f"{graph['seconds'] / max(ews['seconds'], 1e-9):.2f}x",
            f"{graph['cpu_s'] / max(ews['cpu_s'], 1e-9):.2f}x",
        ]
    )
    print_table(
        f"Table 10 - initial two-way sync over EWS and over Microsoft Graph, {contacts:,} "
        f"Exchange + {contacts:,} Sell contacts, {setup['overlap']:,} sharing an e-mail",
        [
            "protocol",
            "direction",
            "records synced",
            "Exchange requests, reads / writes",
            "of which $batch sub-requests, reads / writes",
            "reads / contact",
            "writes / contact",
            "429",
            "Sell requests",
            "seconds",
            "CPU-s",
        ],
        cells,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=5000, help="contacts per side")
    add_protocol_option(parser, "the scenario")
    args = parser.parse_args()
    by_protocol, setup = {}, {}
    for protocol in protocols_of(args.protocol):
        by_protocol[protocol], setup = one_protocol(protocol, args.contacts)
    if len(by_protocol) == 1:
        (rows,) = by_protocol.values()
        ews_table(rows, args.contacts, setup)
    else:
        versus_table(by_protocol, args.contacts, setup)


if __name__ == "__main__":
    main()
