"""`contact-sync-tenants`: add, remove, list, pause, resume and show tenants of the registry.

    contact-sync-tenants add acme --mailbox sync@acme.example \\
        --exchange service_endpoint=https://mail.acme.example/EWS/Exchange.asmx \\
        --exchange auth_type=ntlm --exchange username='ACME\\sync' \\
        --categories Clients,Partners --sell api_url=https://api.getbase.com \\
        --secret exchange_password=env:ACME_EXCHANGE_PASSWORD \\
        --secret sell_api_token=file:/run/secrets/acme-sell-token

The registry URL comes from ``--registry-url`` or ``CONTACT_SYNC_REGISTRY_URL``. Changes take
effect at the next sensor tick; nothing needs a restart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from contact_sync_orchestration.registry import Registry, RegistryError, Tenant


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``; VALUE is read as JSON when it is (true, 3, [..]) and as text otherwise."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        msg = f"expected KEY=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def _secret(text: str) -> tuple[str, str]:
    key, sep, ref = text.partition("=")
    if not sep or not key:
        # Not echoed: the value may be a secret typed by mistake.
        raise argparse.ArgumentTypeError("expected --secret NAME=env:VARIABLE or NAME=file:PATH")
    return key, ref


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="contact-sync-tenants", description=__doc__.split("\n")[0])
    top.add_argument(
        "--registry-url",
        default=os.environ.get("CONTACT_SYNC_REGISTRY_URL"),
        help="PostgreSQL URL of the registry (default $CONTACT_SYNC_REGISTRY_URL)",
    )
    commands = top.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="register a tenant (or change one with --replace)")
    add.add_argument("tenant_id")
    add.add_argument("--mailbox", required=True, help="primary SMTP address of the mailbox")
    add.add_argument(
        "--exchange",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a non-secret setting of both Exchange plugins (service_endpoint, auth_type, ...)",
    )
    add.add_argument("--categories", required=True, help="comma-separated Exchange categories")
    add.add_argument(
        "--sell",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a non-secret Sell setting; api_url is required",
    )
    add.add_argument(
        "--secret",
        type=_secret,
        action="append",
        default=[],
        metavar="NAME=REF",
        help="sell_api_token, exchange_password, exchange_client_secret or exchange_access_token"
        " as env:VARIABLE or file:PATH (read on the worker at run time)",
    )
    add.add_argument("--paused", action="store_true", help="register without scheduling it")
    add.add_argument("--replace", action="store_true", help="overwrite an existing tenant")

    for name, text in (
        ("remove", "delete a tenant; it never runs again (its state and ledger rows stay)"),
        ("pause", "skip a tenant at every tick until it is resumed"),
        ("resume", "schedule a paused tenant again, or one marked as needing attention"),
        ("show", "print one tenant as JSON (secret references, never values)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("tenant_id")
    listing = commands.add_parser("list", help="one line per tenant")
    listing.add_argument("--json", action="store_true", help="print JSON instead")
    return top


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.registry_url:
        print("set --registry-url or CONTACT_SYNC_REGISTRY_URL", file=sys.stderr)
        return 2
    registry = Registry(args.registry_url)
    try:
        return _dispatch(registry, args)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.close()


def _dispatch(registry: Registry, args: argparse.Namespace) -> int:
    if args.command == "add":
        tenant = Tenant(
            tenant_id=args.tenant_id,
            exchange={"primary_smtp_address": args.mailbox, **dict(args.exchange)},
            categories=[c.strip() for c in args.categories.split(",") if c.strip()],
            sell=dict(args.sell),
            secrets=dict(args.secret),
            paused=args.paused,
        )
        registry.add(tenant, replace=args.replace)
        print(f"{'replaced' if args.replace else 'added'} {tenant.tenant_id}")
    elif args.command == "remove":
        registry.remove(args.tenant_id)
        print(f"removed {args.tenant_id}")
    elif args.command in {"pause", "resume"}:
        registry.set_paused(args.tenant_id, paused=args.command == "pause")
        print(f"{args.command}d {args.tenant_id}")
    elif args.command == "show":
        print(json.dumps(registry.get(args.tenant_id).describe(), indent=2))
    elif args.command == "list":
        rows = registry.all()
        if args.json:
            print(json.dumps([t.describe() for t in rows], indent=2))
        for t in [] if args.json else rows:
            status = "attention" if t.attention else "paused" if t.paused else "active"
            note = f"  {t.attention}" if t.attention else ""
            print(f"{t.tenant_id}\t{status}\t{t.exchange['primary_smtp_address']}{note}")
    return 0


def main() -> None:
    sys.exit(run())
