"""Build the one application serving EWS and Graph over one store (SPEC §3, exchange-sandbox).

``cli.py`` checks the flags (``parser.error``, exit 2) and builds the states; this module only
assembles: the EWS sandbox's application with Graph and the identity platform installed on it.
"""

from __future__ import annotations

from aiohttp import web
from ews_sandbox.server import build_app as build_ews_app
from ews_sandbox.state import SandboxState

from graph_sandbox.app import Runtime, install
from graph_sandbox.call import GraphState


def build_app(ews: SandboxState, graph: GraphState, *, latency_ms: float = 0.0) -> web.Application:
    app = build_ews_app(ews, latency_ms=latency_ms)
    install(app, Runtime(graph, ews.stats, ews.faults, ews.backoff_ms, ews.slow_ms))
    return app
