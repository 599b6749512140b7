"""Command line of ``exchange-sandbox`` (and its alias ``ews-sandbox``), SPEC §3.

The EWS sandbox's options plus the Graph ones: app registrations, their scope and permissions,
``--tls`` with a CA of its own, token lifetime and the Outlook limits. As in the other sandboxes,
this module parses and checks (bad flags are usage errors, exit 2), builds the states, and hands
them to ``service.build_app``: one process serves one store over both protocols.
"""

from __future__ import annotations

import argparse
import os
import sys

from ews_sandbox import cli as ews_cli
from ews_sandbox.ops_autodiscover import autodiscover_hosts
from ews_sandbox.state import SandboxState
from sandbox_common import serve
from sandbox_common.tls import HOSTS, make_tls_files

from graph_sandbox.call import GraphState
from graph_sandbox.ews_bearer import app_bearer
from graph_sandbox.identity import EWS_PERMISSIONS, GRAPH_PERMISSIONS, App, IdentityPlatform
from graph_sandbox.service import build_app
from graph_sandbox.throttling import Throttle

GRAPH_DEFAULTS = {"budget": 10_000, "retry_after": 1, "delta_page_max": 200, "lifetime": 3599}


def add_graph_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Microsoft Graph and the identity platform")
    group.add_argument(
        "--app",
        action="append",
        metavar="TENANT_ID:CLIENT_ID:SECRET",
        help="an app registration allowed to read and write every --mailbox (client-credentials "
        "token endpoint <base url>/TENANT_ID/oauth2/v2.0/token); repeatable",
    )
    group.add_argument(
        "--app-scope",
        action="append",
        metavar="CLIENT_ID:ADDRESS[,ADDRESS]...",
        help="restrict an app to these mailboxes, as an application access policy does; others "
        "answer 403 ErrorAccessDenied over Graph and EWS; repeatable",
    )
    group.add_argument(
        "--app-permissions",
        action="append",
        metavar="CLIENT_ID:PERMISSION[,PERMISSION]...",
        help="application permissions granted to an app (default Contacts.ReadWrite, "
        "MailboxSettings.ReadWrite, full_access_as_app); repeatable",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a certificate for 127.0.0.1 and localhost signed by a CA made at "
        "start; prints 'ca <path of the CA PEM>' before 'ready'",
    )
    group.add_argument(
        "--token-lifetime",
        type=int,
        default=GRAPH_DEFAULTS["lifetime"],
        metavar="SECONDS",
        help="lifetime of issued access tokens (expires_in; default 3599)",
    )
    group.add_argument(
        "--graph-budget",
        type=int,
        default=GRAPH_DEFAULTS["budget"],
        metavar="N",
        help="Graph requests per app and mailbox per 10 minutes before 429 (default 10000, "
        "Outlook's limit; 0 = off)",
    )
    group.add_argument(
        "--graph-retry-after",
        type=int,
        default=GRAPH_DEFAULTS["retry_after"],
        metavar="SECONDS",
        help="Retry-After of concurrency 429s (default 1)",
    )
    group.add_argument(
        "--delta-page-max",
        type=int,
        default=GRAPH_DEFAULTS["delta_page_max"],
        metavar="N",
        help="cap of Prefer: odata.maxpagesize on contacts delta (default 200; default page 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = ews_cli.build_parser()
    parser.prog = os.path.basename(sys.argv[0]) or "exchange-sandbox"
    parser.description = (
        "A local Exchange stand-in serving one mailbox store over EWS "
        "(<base url>/EWS/Exchange.asmx) and Microsoft Graph v1.0 (<base url>/v1.0/...)."
    )
    add_graph_arguments(parser)
    return parser


def _split(parser: argparse.ArgumentParser, value: str, flag: str, parts: int) -> list[str]:
    pieces = [p.strip() for p in value.split(":", parts - 1)]
    if len(pieces) != parts or not all(pieces):
        form = {3: "TENANT_ID:CLIENT_ID:SECRET", 2: "CLIENT_ID:VALUE[,VALUE]..."}[parts]
        # Never echo a secret, even from a malformed flag.
        parser.error(f"{flag} expects {form}, got {pieces[0]!r}:…")
    return pieces


def parse_apps(
    parser: argparse.ArgumentParser, args: argparse.Namespace, mailboxes: set[str]
) -> list[App]:
    """``--app``, ``--app-scope`` and ``--app-permissions``; a bad value is a usage error."""
    apps: dict[str, App] = {}
    for value in args.app or []:
        tenant, client_id, secret = _split(parser, value, "--app", 3)
        if client_id.lower() in apps:
            parser.error(f"--app: client id {client_id} is given twice")
        apps[client_id.lower()] = App(tenant, client_id, secret)
    for value in args.app_scope or []:
        client_id, addresses = _split(parser, value, "--app-scope", 2)
        app = apps.get(client_id.lower())
        if app is None:
            parser.error(f"--app-scope names client id {client_id}, which no --app registers")
        wanted = {a.strip().lower() for a in addresses.split(",") if a.strip()}
        unknown = sorted(wanted - mailboxes)
        if unknown:
            parser.error(f"--app-scope: {', '.join(unknown)} is not a --mailbox of this sandbox")
        app.mailboxes = frozenset(wanted | (app.mailboxes or frozenset()))
    known = GRAPH_PERMISSIONS | EWS_PERMISSIONS
    for value in args.app_permissions or []:
        client_id, names = _split(parser, value, "--app-permissions", 2)
        app = apps.get(client_id.lower())
        if app is None:
            parser.error(f"--app-permissions names client id {client_id}, which no --app registers")
        granted = {n.strip() for n in names.split(",") if n.strip()}
        unknown = sorted(granted - known)
        if unknown:
            choices = ", ".join(sorted(known))
            parser.error(f"--app-permissions: unknown {', '.join(unknown)}; choose from {choices}")
        app.permissions = frozenset(granted)
    return list(apps.values())


def build_graph_state(
    parser: argparse.ArgumentParser, args: argparse.Namespace, ews: SandboxState
) -> GraphState:
    for flag, value, least in (
        ("--token-lifetime", args.token_lifetime, 1),
        ("--graph-budget", args.graph_budget, 0),
        ("--graph-retry-after", args.graph_retry_after, 0),
        ("--delta-page-max", args.delta_page_max, 1),
    ):
        if value < least:
            parser.error(f"{flag} must be {least} or greater, got {value}")
    apps = parse_apps(parser, args, set(ews.mailboxes))
    return GraphState(
        mailboxes=ews.mailboxes,
        delegated=dict(ews.tokens),
        identity=IdentityPlatform(apps, lifetime=args.token_lifetime),
        throttle=Throttle(budget=args.graph_budget, retry_after=args.graph_retry_after),
        delta_page_max=args.delta_page_max,
        record_dir=ews.record_dir,
    )


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    ews = ews_cli.build_state(parser, args)
    graph = build_graph_state(parser, args, ews)
    ews.app_bearer = app_bearer(graph.identity, ews.mailboxes)
    app = build_app(ews, graph, latency_ms=args.latency_ms)
    if args.tls:
        # Also the names autodiscover tries for each mailbox domain (ops_autodiscover).
        files = make_tls_files(hosts=(*HOSTS, *autodiscover_hosts(ews.mailboxes)))
        args.tls_cert, args.tls_key = str(files.cert), str(files.key)
        print(f"ca {files.ca}", flush=True)
    serve(app, args)


if __name__ == "__main__":
    main()
