"""Command line of ``exchange-sandbox`` (and its alias ``ews-sandbox``), SPEC §3.

The EWS sandbox's options plus the Graph ones: app registrations, their scope and permissions,
``--tls`` with a CA of its own, token lifetime and the Outlook limits. The parsed options build the
EWS application and Graph is installed on it, so one process serves one store over both.
"""

from __future__ import annotations

import argparse
import os
import sys

from sandbox_common import serve

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
    from ews_sandbox.cli import build_parser as ews_parser  # noqa: PLC0415

    parser = ews_parser()
    parser.prog = os.path.basename(sys.argv[0]) or "exchange-sandbox"
    parser.description = (
        "A local Exchange stand-in serving one mailbox store over EWS "
        "(<base url>/EWS/Exchange.asmx) and Microsoft Graph v1.0 (<base url>/v1.0/...)."
    )
    add_graph_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from graph_sandbox.service import build_app  # noqa: PLC0415 - heavy imports after --help

    app = build_app(args)
    if args.tls:
        from sandbox_common.tls import make_tls_files  # noqa: PLC0415

        files = make_tls_files()
        args.tls_cert, args.tls_key = str(files.cert), str(files.key)
        print(f"ca {files.ca}", flush=True)
    serve(app, args)


if __name__ == "__main__":
    main()
