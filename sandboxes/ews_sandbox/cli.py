"""Command line of the ews-sandbox (SPEC §3): parse and check the flags, build the state, serve.

Every bad flag is an argparse usage error (exit 2) raised here; ``server.build_app`` only ever
receives a built ``SandboxState``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sandbox_common import FaultInjector, RequestStats, add_common_arguments, serve

from ews_sandbox.ntlm import NtlmAuthenticator
from ews_sandbox.seed import populate
from ews_sandbox.server import build_app
from ews_sandbox.state import AUTH_SCHEMES, FAULT_KINDS, SandboxState
from ews_sandbox.store import Mailbox

DEFAULT_MAILBOX = ("demo@example.com", "demo-password")


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


def _pairs(
    parser: argparse.ArgumentParser, values: list[str] | None, flag: str
) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        address, sep, secret = value.partition(":")
        if not sep or "@" not in address or not secret:
            # Never echo the secret: it is one even when the flag is malformed.
            parser.error(f"{flag} expects ADDRESS:SECRET with an e-mail address, got {address!r}:…")
        pairs.append((address, secret))
    return pairs


def _auth_schemes(parser: argparse.ArgumentParser, text: str) -> set[str]:
    schemes = {s.strip().lower() for s in text.split(",") if s.strip()}
    if not schemes or schemes - set(AUTH_SCHEMES):
        parser.error(
            f"--auth: expected a comma-separated subset of {','.join(AUTH_SCHEMES)}, got {text!r}"
        )
    return schemes


def _fault_kinds(parser: argparse.ArgumentParser, text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        parser.error(
            f"--fault-kinds: unknown {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}"
        )
    return kinds


def build_state(parser: argparse.ArgumentParser, args: argparse.Namespace) -> SandboxState:
    """The sandbox ``args`` describe; a bad flag is ``parser.error`` (exit 2), never a traceback."""
    schemes = _auth_schemes(parser, args.auth)
    kinds = _fault_kinds(parser, args.fault_kinds)
    for flag, value in (("--backoff-ms", args.backoff_ms), ("--slow-ms", args.slow_ms)):
        if value < 0:
            parser.error(f"{flag} must be 0 or greater, got {value}")
    try:
        faults = FaultInjector(args.fault_rate, kinds, seed=args.seed or 0)
    except ValueError as exc:
        parser.error(str(exc))
    mailboxes: dict[str, Mailbox] = {}
    for address, password in _pairs(parser, args.mailbox, "--mailbox") or [DEFAULT_MAILBOX]:
        mailboxes[address.lower()] = Mailbox(address, password)
    tokens: dict[str, Mailbox] = {}
    for address, token in _pairs(parser, args.oauth_token, "--oauth-token"):
        tokens[token] = mailboxes.setdefault(address.lower(), Mailbox(address, None))
    for mailbox in mailboxes.values():
        populate(mailbox, args.seed)
    record_dir = Path(args.record_responses) if args.record_responses else None
    if record_dir is not None:
        record_dir.mkdir(parents=True, exist_ok=True)
    return SandboxState(
        mailboxes=mailboxes,
        tokens=tokens,
        stats=RequestStats(),
        faults=faults,
        backoff_ms=args.backoff_ms,
        slow_ms=args.slow_ms,
        basic="basic" in schemes,
        ntlm=NtlmAuthenticator(mailboxes) if "ntlm" in schemes else None,
        record_dir=record_dir,
        tags={m.tag for m in mailboxes.values()},
    )


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    state = build_state(parser, args)
    serve(build_app(state, latency_ms=args.latency_ms), args)


if __name__ == "__main__":
    main()
