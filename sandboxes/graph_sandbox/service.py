"""Build the one application serving EWS and Graph over one store from the parsed options."""

from __future__ import annotations

import argparse

from aiohttp import web
from ews_sandbox.server import STATE_KEY, create_app

from graph_sandbox.app import Runtime, install
from graph_sandbox.call import GraphState
from graph_sandbox.identity import (
    EWS_PERMISSIONS,
    GRAPH_PERMISSIONS,
    App,
    IdentityPlatform,
)
from graph_sandbox.throttling import Throttle


def _split(value: str, flag: str, parts: int) -> list[str]:
    pieces = value.split(":", parts - 1)
    if len(pieces) != parts or not all(p.strip() for p in pieces):
        names = {3: "TENANT_ID:CLIENT_ID:SECRET", 2: "CLIENT_ID:VALUE[,VALUE]..."}[parts]
        msg = f"{flag} expects {names}, got {pieces[0]!r}:…"
        raise SystemExit(msg)
    return [p.strip() for p in pieces]


def parse_apps(args: argparse.Namespace, mailboxes: set[str]) -> list[App]:
    """``--app``, ``--app-scope`` and ``--app-permissions``; bad values stop the start-up."""
    apps: dict[str, App] = {}
    for value in args.app or []:
        tenant, client_id, secret = _split(value, "--app", 3)
        if client_id.lower() in apps:
            msg = f"--app: client id {client_id} is given twice"
            raise SystemExit(msg)
        apps[client_id.lower()] = App(tenant, client_id, secret)
    for value in args.app_scope or []:
        client_id, addresses = _split(value, "--app-scope", 2)
        app = apps.get(client_id.lower())
        if app is None:
            msg = f"--app-scope names client id {client_id}, which no --app registers"
            raise SystemExit(msg)
        wanted = {a.strip().lower() for a in addresses.split(",") if a.strip()}
        unknown = sorted(wanted - mailboxes)
        if unknown:
            msg = f"--app-scope: {', '.join(unknown)} is not a --mailbox of this sandbox"
            raise SystemExit(msg)
        app.mailboxes = frozenset(wanted | (app.mailboxes or frozenset()))
    known = GRAPH_PERMISSIONS | EWS_PERMISSIONS
    for value in args.app_permissions or []:
        client_id, names = _split(value, "--app-permissions", 2)
        app = apps.get(client_id.lower())
        if app is None:
            msg = f"--app-permissions names client id {client_id}, which no --app registers"
            raise SystemExit(msg)
        granted = {n.strip() for n in names.split(",") if n.strip()}
        unknown = sorted(granted - known)
        if unknown:
            choices = ", ".join(sorted(known))
            msg = f"--app-permissions: unknown {', '.join(unknown)}; choose from {choices}"
            raise SystemExit(msg)
        app.permissions = frozenset(granted)
    return list(apps.values())


def build_app(args: argparse.Namespace) -> web.Application:
    app = create_app(args)
    ews = app[STATE_KEY]
    apps = parse_apps(args, set(ews.mailboxes))
    graph = GraphState(
        mailboxes=ews.mailboxes,
        delegated=dict(ews.tokens),
        identity=IdentityPlatform(apps, lifetime=args.token_lifetime),
        throttle=Throttle(budget=args.graph_budget, retry_after=args.graph_retry_after),
        delta_page_max=args.delta_page_max,
        record_dir=ews.record_dir,
    )
    install(app, Runtime(graph, ews.stats, ews.faults, ews.backoff_ms, ews.slow_ms))
    return app
