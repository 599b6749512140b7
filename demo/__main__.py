"""Run the demo: sandboxes up, demo data in, ``two-way-sync`` through Meltano, report out."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import exchangelib
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox
from sell_sandbox import DEMO_TOKEN
from sell_sandbox.client import SellSandboxClient

from demo.agreement import disagreements
from demo.scenario import (
    DEMO_MAILBOX,
    DEMO_PASSWORD,
    exchange_account,
    seed_exchange,
    seed_sell,
    user_edits,
)
from demo.views import exchange_table, overwritten_values, record_names, sell_table

ROOT = Path(__file__).resolve().parent.parent
# Its own report folder: tests running the `demo` environment write to .meltano/reports.
REPORTS = ROOT / ".meltano" / "reports" / "demo"


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 90 - len(text)))


def show_reports(names: dict[str, str]) -> None:
    """Print both run reports; ``names`` turns record ids into the names a person knows."""

    def who(record_id: object) -> str:
        text = str(record_id)
        return names.get(text, names.get(text.rsplit(":", maxsplit=1)[-1], text))

    for name in ("exchange-to-sell", "sell-to-exchange"):
        path = REPORTS / f"{name}.json"
        if not path.exists():
            say(f"  (no report at {path})")
            continue
        report = json.loads(path.read_text())
        say(f"  {report['target']} (tenant {report['tenant']}, {report['duration_s']} s):")
        for stream, counts in report["streams"].items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v)
            say(f"    {stream}: {shown or 'nothing to do'}")
        for c in report["conflicts"]:
            say(
                f"    conflict on {c.get('field')} of {who(c['record_id'])}: kept {c.get('kept')!r}"
                f" ({c.get('kept_origin', '?')}), overwritten {c.get('overwritten')!r}"
                f" ({c.get('overwritten_origin', '?')}, kept in Sell)"
            )
        for r in report["rejected"]:
            say(f"    rejected {who(r['record_id'])}: {r['reason']}")
        for r in report["links_retired"]:
            say(f"    link retired {who(r['record_id'])}: {r['reason']}")
        for r in report.get("links_moved", []):
            say(
                f"    link moved: {who(r['record_id'])} became {who(r.get('to_ref'))}, and"
                f" {who(r.get('exchange_id'))} follows it (S6)"
            )
        for m in report["matches"]:
            say(
                f"    matched {who(m['record_id'])} with {who(m.get('matched_id'))}"
                f" by {m.get('rule', '?')}"
            )


def writes(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["total_writes"]


def main() -> int:
    started = time.monotonic()
    with (
        running_sandbox("sell-sandbox", ["--token", DEMO_TOKEN]) as sell,
        running_sandbox(
            "ews-sandbox", ["--mailbox", f"{DEMO_MAILBOX}:{DEMO_PASSWORD}", "--seed", "0"]
        ) as ews,
        tempfile.TemporaryDirectory(prefix="contact-sync-demo-") as workdir,
    ):
        endpoint = f"{ews.base_url}/EWS/Exchange.asmx"
        api = SellSandboxClient(sell.base_url, DEMO_TOKEN, user_agent="contact-sync-demo/1.0")
        account = exchange_account(endpoint)
        heading("Demo data")
        sell_records = seed_sell(api)
        time.sleep(1.1)  # Sell stamps whole seconds: make the Exchange side visibly newer (S5.2)
        exchange_contacts = seed_exchange(account)
        say(f"  Sell sandbox {sell.base_url}, EWS sandbox {endpoint} (mailbox {DEMO_MAILBOX})")
        say("  Exchange categories selected for Sell: Clients, Partners")
        heading("Before: Sell")
        for line in sell_table(api):
            say(line)
        heading("Before: Exchange (private contact folders)")
        for line in exchange_table(account):
            say(line)

        project = MeltanoProject.isolated(
            ROOT,
            Path(workdir),
            env={
                "DEMO_SELL_URL": sell.base_url,
                "DEMO_SELL_TOKEN": DEMO_TOKEN,
                "DEMO_EWS_ENDPOINT": endpoint,
                "DEMO_EWS_MAILBOX": DEMO_MAILBOX,
                "DEMO_EWS_PASSWORD": DEMO_PASSWORD,
                "TARGET_SELL_CONTACTS_REPORT_PATH": str(REPORTS / "exchange-to-sell.json"),
                "TARGET_EXCHANGE_REPORT_PATH": str(REPORTS / "sell-to-exchange.json"),
            },
        )
        for run in (1, 2):
            if run == 2:
                heading("Edits by the user between the two runs")
                for line in user_edits(api, account, sell_records, exchange_contacts):
                    say(f"  {line}")
            heading(f"meltano --environment=demo run two-way-sync (run {run})")
            t0 = time.monotonic()
            project.run("--environment=demo", "run", "two-way-sync")
            say(f"  done in {time.monotonic() - t0:.1f} s")
            show_reports(record_names(api, exchange_contacts))

        heading("After: Sell")
        for line in sell_table(api):
            say(line)
        heading("Values kept in Sell after conflicts (custom field 'Overwritten values')")
        for line in overwritten_values(api):
            say(line)
        heading("After: Exchange (private contact folders)")
        for line in exchange_table(account):
            say(line)

        heading("Agreement (S7.3): every linked pair holds the same values on both sides")
        disagree = disagreements(api, account)
        for line in disagree or ["every linked pair agrees"]:
            say(f"  {line}")

        heading("Convergence check (S7.1): one more two-way-sync with no edits")
        sell.reset()
        ews.reset()
        project.run("--environment=demo", "run", "two-way-sync")
        say(f"  writes: Sell {writes(sell)}, Exchange {writes(ews)} (both must be 0)")
        exchangelib.close_connections()
        converged = writes(sell) == 0 and writes(ews) == 0 and not disagree
    say()
    say(f"Demo finished in {time.monotonic() - started:.0f} s; reports in {REPORTS}")
    return 0 if converged else 1


if __name__ == "__main__":
    sys.exit(main())
