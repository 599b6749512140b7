"""Command line of the ews-sandbox (SPEC §3)."""

from __future__ import annotations

import argparse

from sandbox_common import add_common_arguments, serve

# Kinds of injected faults (kept here so --help needs no heavy imports).
FAULT_KINDS = ("server_busy", "http_503", "drop_before", "drop_after", "slow")
# Password schemes for --mailbox; Bearer comes with --oauth-token whatever this says.
AUTH_SCHEMES = ("basic", "ntlm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ews-sandbox",
        description="A local Exchange Web Services (Exchange 2016) stand-in for contacts.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--mailbox",
        action="append",
        metavar="ADDRESS:PASSWORD",
        help="a mailbox (tenant) and its password, for the --auth schemes; repeatable. "
        "Default: demo@example.com:demo-password",
    )
    parser.add_argument(
        "--auth",
        default="basic",
        metavar="SCHEMES",
        help=f"comma-separated subset of {','.join(AUTH_SCHEMES)} accepted for --mailbox "
        "passwords and offered on 401 (default: basic); ntlm authenticates the TCP connection",
    )
    parser.add_argument(
        "--oauth-token",
        action="append",
        metavar="ADDRESS:TOKEN",
        help="'Authorization: Bearer TOKEN' acts as ADDRESS; repeatable",
    )
    parser.add_argument(
        "--backoff-ms",
        type=int,
        default=500,
        help="BackOffMilliseconds of injected ErrorServerBusy",
    )
    parser.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated subset of {','.join(FAULT_KINDS)} drawn by --fault-rate",
    )
    parser.add_argument("--slow-ms", type=int, default=1500, help="delay of injected slow answers")
    parser.add_argument(
        "--record-responses",
        metavar="DIR",
        default=None,
        help="debug: write every SOAP answer to DIR (the tests validate them against the XSD)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from ews_sandbox.server import create_app  # noqa: PLC0415 - heavy imports after --help

    serve(create_app(args), args)


if __name__ == "__main__":
    main()
