"""The control API as an aiohttp application, built by composition (see :func:`build_app`).

Endpoints (all JSON unless noted; every one but ``GET /health`` needs the bearer token, see
:mod:`execsvc.control.auth`)::

    GET  /health            200 {"status": "ok"}
    GET  /ready             200 while the service accepts intents, else 503
    GET  /status            mode, halt, breakers, counters, bus queues, WebSocket, journal
    GET  /positions         positions with last price and P&L
    GET  /orders            every order of the day with its latest status
    GET  /results?limit=N   the latest result of the last N intents (default 50)
    GET  /journal?since=SEQ&limit=N&day=D   a day's records with seq > SEQ (X-Journal-Day names it)
    GET  /metrics           Prometheus text format 0.0.4
    GET  /events            Server-Sent Events: ``status`` snapshots and ``result``s
    GET  /                  the HTML control page
    POST /intents           an OrderIntent; answers its first ExecutionResult; with "slice": true,
                            {"intent_id", "results"}: its slices' (``ExecutionService.execute_sliced``)
    POST /halt | /resume | /breakers/reset   {"reason": str, "by": str?}
    POST /square-off        {"strategy": str | null, "reason": str, "by": str?}
    POST /kite/postback     Kite's order postback (live, with the API secret): checksum, not token

Unknown routes are 404, wrong methods 405, bodies over 64 KiB 413, all with JSON bodies; no
traceback ever reaches a client.

Resource handling: a cleanup context subscribes the SSE hub to the service's results and
unsubscribes on the way out; an ``on_shutdown`` hook ends every open event stream before aiohttp
waits for handlers, so no stream outlives the app. The service and the metrics belong to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from execsvc.control import commands, views
from execsvc.control.auth import auth_middleware, check_bind, load_control_token
from execsvc.control.keys import JOURNAL_DIR, METRICS, SERVICE, SSE_HUB, TICKER
from execsvc.control.page import PAGE
from execsvc.control.responses import MAX_BODY, error_middleware
from execsvc.control.sse import SseHub
from execsvc.executors.kite.auth import Secret
from execsvc.executors.kite.postback import POSTBACK_PATH, postback_handler
from execsvc.metrics import ServiceMetrics
from execsvc.service import ExecutionService

__all__ = ["build_app", "check_bind", "load_control_token"]

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page may run its own inline script and style and talk to this origin only."""


async def _page(request: web.Request) -> web.Response:
    return web.Response(
        text=PAGE,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": _CSP,
        },
    )


async def _sse_feed(app: web.Application) -> AsyncIterator[None]:
    """Subscribe the hub to results (dropping under pressure, never blocking the service)."""
    svc, hub = app[SERVICE], app[SSE_HUB]
    subscription = svc.bus.subscribe("results", hub.publish, name="control-sse", overflow="drop")
    try:
        yield
    finally:
        hub.close_all()
        svc.bus.unsubscribe(subscription)


async def _end_streams(app: web.Application) -> None:
    app[SSE_HUB].close_all()


def build_app(
    svc: ExecutionService,
    *,
    token: str | None,
    metrics: ServiceMetrics,
    ticker: object | None = None,
    journal_dir: Path,
    sse_status_interval: float = 5.0,
    sse_client_queue: int = 256,
    postback_secret: Secret | None = None,
) -> web.Application:
    """The control application for ``svc``.

    Args:
        svc: the service to control (started separately; ``/ready`` tells whether it accepts intents).
        token: the bearer token, or None for no authentication (loopback only: see :func:`check_bind`,
            which :func:`~execsvc.control.server.start_control` calls).
        metrics: the service's metrics; ``POST /intents`` calls its ``note_intent``.
        ticker: an optional WebSocket ticker (``state``, ``connects``, ``disconnects``) for ``/status``.
        journal_dir: the journal directory (``/journal`` reads today's file in it).
        sse_status_interval: seconds between status frames on an idle event stream.
        sse_client_queue: frames queued per event-stream client before the oldest is dropped.
        postback_secret: the Kite API secret: serves ``POST /kite/postback``, whose updates are
            queued with the WebSocket's and the poller's (None: no such route).

    Returns:
        The application, ready for an ``AppRunner``.
    """
    app = web.Application(middlewares=[error_middleware, auth_middleware(token)], client_max_size=MAX_BODY)
    app[SERVICE] = svc
    app[METRICS] = metrics
    app[TICKER] = ticker
    app[JOURNAL_DIR] = Path(journal_dir)
    app[SSE_HUB] = SseHub(client_queue=sse_client_queue, status_interval=sse_status_interval)
    app.cleanup_ctx.append(_sse_feed)
    app.on_shutdown.append(_end_streams)
    app.add_routes(
        [
            web.get("/", _page),
            web.get("/health", views.health),
            web.get("/ready", views.ready),
            web.get("/status", views.status),
            web.get("/positions", views.positions),
            web.get("/orders", views.orders),
            web.get("/results", views.results),
            web.get("/journal", views.journal),
            web.get("/metrics", views.metrics),
            web.get("/events", views.events),
            web.post("/intents", commands.post_intent),
            web.post("/halt", commands.halt),
            web.post("/resume", commands.resume),
            web.post("/breakers/reset", commands.reset_breakers),
            web.post("/square-off", commands.square_off),
        ]
    )
    if postback_secret is not None:
        app.add_routes([web.post(POSTBACK_PATH, postback_handler(svc.order_update, postback_secret))])
    return app
