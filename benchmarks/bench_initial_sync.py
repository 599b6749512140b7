"""Benchmark (table 2): requests per synced contact in an initial two-way sync with overlap.

    .venv/bin/python benchmarks/bench_initial_sync.py [--contacts 5000]

Set-up (not measured): ``ews-sandbox --seed 5000`` (5,000 contacts in the mailbox) and an empty
``sell-sandbox --rate-limit 0`` into which 5,000 contacts are created through the API: half of
them carry the e-mail and name of an Exchange contact (contacts in the synced categories first),
half are Sell-only. Then the real initial two-way sync, each direction once, as the
``two-way-sync`` job runs them (Exchange → Sell, then Sell → Exchange); requests come from each
sandbox's ``/_sandbox/stats`` and contacts from each target's run report.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

from common import (
    CATEGORIES,
    MAILBOX,
    PASSWORD,
    TOKEN,
    PluginConfigs,
    directions,
    log,
    print_table,
    read_report,
    sandboxes,
    select_streams,
    workdir,
)
from exchangelib import DELEGATE, Account, Build, Configuration, Credentials, Version
from sell_sandbox.client import SellSandboxClient


def exchange_people(endpoint: str) -> list[dict]:
    """E-mail and names of the mailbox's private contacts, those in the synced categories first."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=5000, help="contacts per side")
    args = parser.parse_args()
    work = workdir("initial-sync")
    half = args.contacts // 2
    with sandboxes(["--rate-limit", "0"], ["--seed", str(args.contacts)]) as boxes:
        people = exchange_people(f"{boxes.ews.base_url}/EWS/Exchange.asmx")
        overlap = people[:half]
        in_scope_overlap = sum(p["in_scope"] for p in overlap)
        sell_only = [
            {
                "first_name": f"Sell{i}",
                "last_name": f"Only{i % 71}",
                "email": f"sell{i}@example.org",
            }
            for i in range(args.contacts - len(overlap))
        ]
        create_sell_contacts(boxes.sell.base_url, overlap + sell_only)
        log(
            f"set-up: {len(overlap)} overlapping ({in_scope_overlap} in synced categories) + "
            f"{len(sell_only)} Sell-only contacts created"
        )
        configs = PluginConfigs.write(work, boxes)
        to_sell, to_exchange = directions(configs)
        select_streams(configs, to_sell, to_exchange)
        rows, totals = [], {"sell": 0, "ews": 0, "synced": 0, "seconds": 0.0}
        for direction, report_path in (
            (to_sell, configs.work / "report-target-sell.json"),
            (to_exchange, configs.work / "report-target-exchange.json"),
        ):
            boxes.reset()
            result = direction.run()
            sell, ews = boxes.sell_requests(), boxes.ews_requests()
            report = read_report(report_path)
            synced = stream_sum(report, "received") - stream_sum(report, "deletions_seen")
            outcome = ", ".join(
                f"{key} {stream_sum(report, key)}"
                for key in (
                    "created",
                    "updated",
                    "matched",
                    "unchanged",
                    "echoes_skipped",
                    "rejected",
                )
            )
            log(f"{direction.name}: {result.seconds:.1f}s sell {sell} ews {ews}; {outcome}")
            rows.append(
                [
                    direction.name,
                    f"{synced:,}",
                    outcome,
                    f"{sum(sell):,} ({sell[1]:,} writes)",
                    f"{sum(sell) / max(synced, 1):.3f}",
                    f"{sum(ews):,} ({ews[1]:,} writes)",
                    f"{sum(ews) / max(synced, 1):.3f}",
                    f"{result.seconds:.0f}",
                ]
            )
            totals["sell"] += sum(sell)
            totals["ews"] += sum(ews)
            totals["synced"] += synced
            totals["seconds"] += result.seconds
    rows.append(
        [
            "**both directions**",
            f"{totals['synced']:,}",
            "",
            f"{totals['sell']:,}",
            f"**{totals['sell'] / max(totals['synced'], 1):.3f}**",
            f"{totals['ews']:,}",
            f"**{totals['ews'] / max(totals['synced'], 1):.3f}**",
            f"{totals['seconds']:.0f}",
        ]
    )
    print_table(
        f"Table 2 - initial two-way sync, {args.contacts:,} Exchange + {args.contacts:,} Sell "
        f"contacts, {len(overlap):,} sharing an e-mail ({in_scope_overlap:,} of them in the synced "
        "categories)",
        [
            "direction",
            "records synced",
            "target outcome",
            "Sell requests",
            "Sell req / contact",
            "EWS requests",
            "EWS req / contact",
            "seconds",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
