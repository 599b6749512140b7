"""Run the demo: sandboxes up, demo data in, ``two-way-sync`` through Meltano, report out."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import exchangelib
from ews_sandbox.testing import exchange_settings
from exchange_mailbox.connect import open_mailbox
from graph_sandbox.testing import EWS_ONLY_SETTINGS, graph_settings, plugin_env
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox
from sell_sandbox import DEMO_TOKEN
from sell_sandbox.client import SellSandboxClient

from demo.agreement import disagreements
from demo.scenario import (
    DEMO_APP,
    DEMO_MAILBOX,
    DEMO_PASSWORD,
    exchange_account,
    seed_exchange,
    seed_sell,
    user_edits,
)
from demo.state import final_state
from demo.views import exchange_table, overwritten_values, record_names, sell_table

ROOT = Path(__file__).resolve().parent.parent
# Its own report folder, one per protocol: tests running the `demo` environment write to
# .meltano/reports, and a demo over one protocol must never show the other's reports.
REPORTS = ROOT / ".meltano" / "reports" / "demo"
EXCHANGE_PLUGINS = ("TAP_EXCHANGE_CONTACTS", "TARGET_EXCHANGE")  # their env-variable prefixes


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 90 - len(text)))


def show_reports(reports: Path, names: dict[str, str]) -> None:
    """Print both run reports; ``names`` turns record ids into the names a person knows."""

    def who(record_id: object) -> str:
        text = str(record_id)
        return names.get(text, names.get(text.rsplit(":", maxsplit=1)[-1], text))

    for name in ("exchange-to-sell", "sell-to-exchange"):
        path = reports / f"{name}.json"
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument(
        "--protocol",
        choices=("ews", "graph"),
        default="ews",
        help="how the Exchange plugins reach the mailbox: EWS (basic auth, http) or Microsoft "
        "Graph (the demo app's msal tokens, https with the sandbox's CA); default ews",
    )
    parser.add_argument(
        "--state-out",
        type=Path,
        metavar="FILE",
        help="write both sides' final state (protocol-neutral, demo/state.py) and the checks as "
        "JSON here",
    )
    parser.add_argument(
        "--reports",
        type=Path,
        metavar="DIR",
        help="write the run reports here (default: .meltano/reports/demo/PROTOCOL); demos run "
        "side by side need one each",
    )
    return parser.parse_args(argv)


def exchange_sandbox_args(protocol: str) -> list[str]:
    args = ["--mailbox", f"{DEMO_MAILBOX}:{DEMO_PASSWORD}", "--seed", "0"]
    return args if protocol == "ews" else [*args, "--tls", "--app", ":".join(DEMO_APP)]


def sync_settings(protocol: str, exchange: SandboxProcess) -> dict[str, str]:
    """How both Exchange plugins reach the mailbox: the `demo` environment's EWS settings, or
    Graph with the demo app's client credentials (msal) and the sandbox's CA as ca_bundle."""
    if protocol == "ews":
        return exchange_settings(exchange, DEMO_MAILBOX, DEMO_PASSWORD)
    tenant, client_id, secret = DEMO_APP
    return graph_settings(exchange, DEMO_MAILBOX, tenant=tenant, client_id=client_id, secret=secret)


def graph_env(settings: dict[str, str]) -> dict[str, str]:
    """Graph ``settings`` for both Exchange plugins, the `demo` environment's EWS ones blanked."""
    env: dict[str, str] = {}
    for prefix in EXCHANGE_PLUGINS:
        env |= plugin_env(prefix, settings, blank=EWS_ONLY_SETTINGS)
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reports = args.reports or REPORTS / args.protocol
    for stale in reports.glob("*.json"):  # a run that writes none must not show an old one
        stale.unlink()
    started = time.monotonic()
    with (
        running_sandbox("sell-sandbox", ["--token", DEMO_TOKEN]) as sell,
        running_sandbox("exchange-sandbox", exchange_sandbox_args(args.protocol)) as exchange,
        tempfile.TemporaryDirectory(prefix="contact-sync-demo-") as workdir,
    ):
        endpoint = f"{exchange.base_url}/EWS/Exchange.asmx"
        api = SellSandboxClient(sell.base_url, DEMO_TOKEN, user_agent="contact-sync-demo/1.0")
        # The user's own Outlook edits go over EWS on either protocol: the sandbox serves one
        # mailbox store over both, as Exchange Online does.
        account = exchange_account(endpoint, exchange.cafile)
        heading("Demo data")
        sell_records = seed_sell(api)
        time.sleep(1.1)  # Sell stamps whole seconds: make the Exchange side visibly newer (S5.2)
        exchange_contacts = seed_exchange(account)
        say(f"  Sell sandbox {sell.base_url}, Exchange sandbox {exchange.base_url}")
        say(f"  mailbox {DEMO_MAILBOX}; the user edits it in Outlook over EWS ({endpoint})")
        if args.protocol == "graph":
            say(
                f"  the sync reaches it over Microsoft Graph ({exchange.base_url}/v1.0) as app"
                f" {DEMO_APP[1]} of tenant {DEMO_APP[0]} (msal client credentials, TLS with the"
                " sandbox's own CA)"
            )
        else:
            say("  the sync reaches it over EWS too (basic auth)")
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
                "TARGET_SELL_CONTACTS_REPORT_PATH": str(reports / "exchange-to-sell.json"),
                "TARGET_EXCHANGE_REPORT_PATH": str(reports / "sell-to-exchange.json"),
            },
        )
        settings = sync_settings(args.protocol, exchange)
        if args.protocol == "graph":
            project.env |= graph_env(settings)
        mailbox = open_mailbox(settings)  # the sync's view, to name its ids in the reports
        names: dict[str, str] = {}  # kept across runs: run 2 reports the lead that is gone
        for run in (1, 2):
            if run == 2:
                heading("Edits by the user between the two runs")
                for line in user_edits(api, account, sell_records, exchange_contacts):
                    say(f"  {line}")
            heading(f"meltano --environment=demo run two-way-sync (run {run}, {args.protocol})")
            t0 = time.monotonic()
            project.run("--environment=demo", "run", "two-way-sync")
            say(f"  done in {time.monotonic() - t0:.1f} s")
            names |= record_names(api, mailbox)
            show_reports(reports, names)

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
        exchange.reset()
        project.run("--environment=demo", "run", "two-way-sync")
        quiet = {"sell": writes(sell), "exchange": writes(exchange)}
        say(f"  writes: Sell {quiet['sell']}, Exchange {quiet['exchange']} (both must be 0)")
        if args.state_out:
            state = final_state(api, account)
            checks = {"disagreements": disagree, "quiet_run_writes": quiet}
            args.state_out.write_text(
                json.dumps({"protocol": args.protocol, **state, **checks}, indent=1) + "\n"
            )
            say(f"  final state written to {args.state_out}")
        mailbox.close()
        exchangelib.close_connections()
        converged = not any(quiet.values()) and not disagree
    say()
    say(f"Demo finished in {time.monotonic() - started:.0f} s; reports in {reports}")
    return 0 if converged else 1


if __name__ == "__main__":
    sys.exit(main())
