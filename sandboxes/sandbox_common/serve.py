"""Serving an aiohttp sandbox: common CLI flags, latency, stats routes and the ``ready`` line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox_common.stats import RequestStats

STATS_KEY = web.AppKey("sandbox_stats", RequestStats)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of SPEC §3 shared by both sandboxes, plus optional TLS for certificate tests."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=None, help="seed a deterministic data set")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty answers")
    parser.add_argument("--tls-cert", default=None, help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", default=None, help="private key for --tls-cert")


def latency_middleware(latency_ms: float) -> Callable:
    """Delays every answer without blocking other requests (the event loop keeps serving)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if latency_ms > 0 and not request.path.startswith("/_sandbox/"):
            await asyncio.sleep(latency_ms / 1000.0)
        return await handler(request)

    return middleware


def add_sandbox_routes(app: web.Application, stats: RequestStats) -> None:
    """``GET /_sandbox/stats`` and ``POST /_sandbox/reset`` (SPEC §3)."""
    app[STATS_KEY] = stats

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(request.app[STATS_KEY].snapshot())

    async def reset_stats(request: web.Request) -> web.Response:
        request.app[STATS_KEY].reset()
        return web.json_response({"reset": True})

    app.router.add_get("/_sandbox/stats", get_stats)
    app.router.add_post("/_sandbox/reset", reset_stats)


def serve(app: web.Application, args: argparse.Namespace) -> None:
    """Bind, print ``ready <base url>`` on stdout, and serve until SIGTERM or SIGINT."""
    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port, ssl_context=ssl_context, backlog=512)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        scheme = "https" if ssl_context else "http"
        print(f"ready {scheme}://{args.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
