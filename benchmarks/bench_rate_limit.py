"""Benchmark (table 1): how much of Sell's rate limit target-sell-contacts uses when writing.

    .venv/bin/python benchmarks/bench_rate_limit.py [--contacts 600] [--rate-limit 10]
        [--latency-ms 200] [--companies 5]

Feeds target-sell-contacts (its default ``requests_per_second: 10``) a Singer stream of
``--contacts`` new Exchange contacts (a few share ``--companies`` companies) against
``sell-sandbox --rate-limit 10 --latency-ms 200`` (Sell's 10 requests/s per token, a realistic
200 ms per answer). The baseline is the limit itself: writes per second as a fraction of 10.
Goal: ≥ 0.9 of the limit, ≤ 1.05 Sell requests per written contact, no failed record.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from common import (
    BIN,
    TOKEN,
    log,
    print_table,
    read_report,
    run_processes,
    sell_config,
    workdir,
)
from exchange_mailbox.ews.records import contact_schema
from sandbox_common.process import running_sandbox
from sell_sandbox import tenant_key


def new_contacts(path: Path, contacts: int, companies: int) -> None:
    """A Singer stream of new Exchange contacts, shaped as tap-exchange-contacts emits them."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        {
            "type": "SCHEMA",
            "stream": "contacts",
            "schema": contact_schema().to_dict(),
            "key_properties": ["id"],
        }
    ]
    for i in range(contacts):
        record = {
            "id": f"AAMkAD-ratelimit-{i:06d}=",
            "change_key": f"CK-{i}",
            "folder_id": "FOLDER-CONTACTS",
            "folder_path": "Contacts",
            "given_name": f"Rate{i}",
            "surname": f"Limit{i % 89}",
            "company_name": f"Rate Company {i % companies}" if companies else None,
            "job_title": "Buyer",
            "email_address_1": f"rate{i}@example.com",
            "phone_numbers": {"BusinessPhone": f"+1 212 555 {i % 10000:04d}"},
            "physical_addresses": {},
            "categories": ["Clients"],
            "created_time": now,
            "last_modified_time": now,
        }
        lines.append({"type": "RECORD", "stream": "contacts", "record": record})
    lines.append({"type": "STATE", "value": {"bookmarks": {"contacts": {"rate": True}}}})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=600)
    parser.add_argument("--rate-limit", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--companies", type=int, default=5)
    args = parser.parse_args()
    work = workdir("rate-limit")
    source = work / "contacts.singer"
    new_contacts(source, args.contacts, args.companies)
    sandbox_args = ["--token", TOKEN, "--rate-limit", f"{args.rate_limit:g}"]
    sandbox_args += ["--latency-ms", f"{args.latency_ms:g}"]
    with running_sandbox("sell-sandbox", sandbox_args) as sell:
        report_path = work / "report.json"
        config = sell_config(sell, requests_per_second=args.rate_limit) | {
            "tenant": "bench",
            "ledger_url": f"sqlite:///{work / 'ledger.db'}",
            "exchange_id_field": "Exchange ID",
            "overwritten_values_field": "Overwritten values",
            "report_path": str(report_path),
        }
        (work / "config.json").write_text(json.dumps(config))
        sell.reset()
        result = run_processes(
            [
                (
                    "target-sell-contacts",
                    [str(BIN / "target-sell-contacts"), "--config", str(work / "config.json")],
                )
            ],
            log_dir=work,
            stdin_path=source,
            stdout_path=work / "state.jsonl",
            timeout=900,
        )
        stats = sell.stats()["by_tenant"].get(tenant_key(TOKEN), {})
    report = read_report(report_path)
    counts = report.get("streams", {}).get("contacts", {})
    written = counts.get("created", 0) + counts.get("updated", 0) + counts.get("matched", 0)
    requests = stats.get("total_reads", 0) + stats.get("total_writes", 0)
    phase = float(report.get("duration_s") or result.seconds)
    limit = args.rate_limit
    log(f"target-sell-contacts: {result.seconds:.1f}s, written {written}, requests {requests}")
    rows = [
        ["contacts sent / written", f"{args.contacts} / {written}", ""],
        ["target exit code", str(result.processes[0].returncode), "0"],
        [
            "failed records (sent - written) / rejected",
            f"{args.contacts - written} / {counts.get('rejected', 0)}",
            "0",
        ],
        [
            "wall time, process / write phase (run report)",
            f"{result.seconds:.1f} s / {phase:.1f} s",
            "",
        ],
        [
            "contacts written per second ÷ limit (write phase)",
            f"{written / phase / limit:.2f}",
            "≥ 0.9",
        ],
        [
            "contacts written per second ÷ limit (whole process)",
            f"{written / result.seconds / limit:.2f}",
            "",
        ],
        [
            "Sell requests per second ÷ limit (write phase)",
            f"{requests / phase / limit:.2f}",
            "≤ 1",
        ],
        [
            "Sell requests (reads / writes)",
            f"{stats.get('total_reads', 0)} / {stats.get('total_writes', 0)}",
            "",
        ],
        ["Sell requests per written contact", f"{requests / max(written, 1):.3f}", "≤ 1.05"],
        ["429 answers", str(stats.get("statuses", {}).get("429", 0)), ""],
        ["peak RSS", f"{result.processes[0].max_rss_mb:.0f} MB", ""],
    ]
    print_table(
        f"Table 1 - target-sell-contacts writing {args.contacts} new contacts to "
        f"sell-sandbox --rate-limit {limit:g} --latency-ms {args.latency_ms:g}",
        ["measure", "value", "goal"],
        rows,
    )


if __name__ == "__main__":
    main()
