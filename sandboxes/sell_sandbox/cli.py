"""Command line of the sell-sandbox (SPEC §3)."""

from __future__ import annotations

import argparse
import sys

from sandbox_common import FaultInjector, RequestStats, add_common_arguments, serve

from sell_sandbox import DEMO_TOKEN
from sell_sandbox.account import DEFAULT_CUSTOM_FIELDS, Account, CustomFieldSpec
from sell_sandbox.app import FAULT_KINDS, SellState, build_app
from sell_sandbox.lead_conversions import CONVERTED_LEADS
from sell_sandbox.ratelimit import TenantRateLimiter
from sell_sandbox.resources import CUSTOM_FIELD_RESOURCES, CUSTOM_FIELD_TYPES
from sell_sandbox.seed import seed_account

TOKEN_LENGTH = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sell-sandbox", description="Local stand-in for the Zendesk Sell REST API v2."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="a 64-character access token; each one is its own account (repeatable)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=10.0,
        help="requests per second per token, like Sell's 36,000/hour (default 10; 0 = off)",
    )
    parser.add_argument(
        "--custom-field",
        action="append",
        default=[],
        metavar="RESOURCE:NAME:TYPE[:CHOICE|CHOICE…]",
        help="define a custom field in every account (repeatable); RESOURCE is contact, lead or"
        " deal",
    )
    parser.add_argument(
        "--no-custom-fields",
        action="store_true",
        help="accounts without custom fields (default: contact and lead get 'Exchange ID' and"
        " 'Overwritten values')",
    )
    parser.add_argument(
        "--converted-leads",
        choices=CONVERTED_LEADS,
        default="removed",
        help="what POST /v2/lead_conversions does to the lead, which Sell does not document:"
        " removed (default; 404 on GET, gone from lists, a Sync API delete) or kept (unchanged)",
    )
    parser.add_argument(
        "--slow-fault-ms",
        type=float,
        default=3000.0,
        help="delay of the 'slow' fault kind (default 3000)",
    )
    return parser


def _tokens(parser: argparse.ArgumentParser, tokens: list[str]) -> list[str]:
    for position, token in enumerate(tokens, start=1):
        if len(token) != TOKEN_LENGTH or any(ch.isspace() for ch in token):
            # Never echo the token: it is a secret even when malformed.
            parser.error(
                f"--token #{position} must be exactly {TOKEN_LENGTH} characters without"
                f" whitespace (got {len(token)} characters)"
            )
    if len(set(tokens)) != len(tokens):
        parser.error("the same --token was given twice; each token is its own account")
    return tokens


def _custom_fields(
    parser: argparse.ArgumentParser, specs: list[str], none: bool
) -> tuple[CustomFieldSpec, ...]:
    if none and specs:
        parser.error("--no-custom-fields cannot be combined with --custom-field")
    if none:
        return ()
    if not specs:
        return DEFAULT_CUSTOM_FIELDS
    parsed = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (3, 4) or not parts[1].strip():
            parser.error(f"--custom-field {spec!r}: expected RESOURCE:NAME:TYPE[:CHOICES]")
        resource, name, ftype = parts[0], parts[1].strip(), parts[2]
        if resource not in CUSTOM_FIELD_RESOURCES:
            parser.error(f"--custom-field {spec!r}: RESOURCE must be one of contact, lead, deal")
        if ftype not in CUSTOM_FIELD_TYPES:
            parser.error(
                f"--custom-field {spec!r}: TYPE must be one of {', '.join(CUSTOM_FIELD_TYPES)}"
            )
        choices = tuple(c for c in parts[3].split("|") if c) if len(parts) == 4 else ()
        if any(p.resource == resource and p.name == name for p in parsed):
            parser.error(f"--custom-field {spec!r}: {resource} already has a field {name!r}")
        parsed.append(CustomFieldSpec(resource, name, ftype, choices))
    return tuple(parsed)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    tokens = _tokens(parser, args.token)
    if not tokens:
        tokens = [DEMO_TOKEN]
        print(f"demo token: {DEMO_TOKEN}", file=sys.stderr, flush=True)
    if args.seed is not None and args.seed < 0:
        parser.error("--seed must be 0 or greater")
    specs = _custom_fields(parser, args.custom_field, args.no_custom_fields)
    try:
        limiter = TenantRateLimiter(args.rate_limit)
        faults = FaultInjector(args.fault_rate, FAULT_KINDS, seed=args.seed or 0)
    except ValueError as exc:
        parser.error(str(exc))
    accounts = {}
    for token in tokens:
        account = Account(token, specs)
        if args.seed:
            seed_account(account, args.seed, args.seed)
        accounts[token] = account
    state = SellState(
        accounts=accounts,
        stats=RequestStats(),
        limiter=limiter,
        faults=faults,
        slow_seconds=args.slow_fault_ms / 1000.0,
        converted_leads=args.converted_leads,
    )
    serve(build_app(state, latency_ms=args.latency_ms), args)


if __name__ == "__main__":
    main()
