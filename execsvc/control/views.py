"""Read-only endpoints: health, readiness, status, positions, orders, results, journal, metrics, events.

Every body is JSON except ``/metrics`` (Prometheus text) and ``/events`` (Server-Sent Events).
Lists are returned as JSON arrays; figures are the service's own, read at request time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import msgspec
from aiohttp import web

from execsvc.control.keys import JOURNAL_DIR, METRICS, SERVICE, SSE_HUB, TICKER
from execsvc.control.responses import BadParameter, encode, json_response
from execsvc.control.sse import frame
from execsvc.journal.reader import journal_path, read_since
from execsvc.service import ExecutionService

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_LIMIT = 10_000


def _is_day(text: str) -> bool:
    try:  # the round trip refuses every other form fromisoformat takes (20261120, 2026-W48-3)
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in ``[lo, hi]``.

    Raises:
        BadParameter: not an integer, or out of range.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, raw, "must be an integer") from None
    if not lo <= value <= hi:
        raise BadParameter(name, raw, f"must be between {lo} and {hi}")
    return value


def is_accepting(svc: ExecutionService) -> bool:
    """Whether the service takes intents now (started, not stopping)."""
    return bool(getattr(svc, "accepting", getattr(svc, "_accepting", False)))


def broker_session(svc: ExecutionService) -> dict[str, Any] | None:
    """The live Kite session's status (``executors.kite.session``); None without a Kite client."""
    client = getattr(svc, "kite_client", None)
    return client.auth.to_dict() if client is not None else None


def status_snapshot(app: web.Application) -> dict[str, Any]:
    """Mode, halt, breakers, counters, bus queues, WebSocket and journal, for ``/status`` and streams."""
    svc = app[SERVICE]
    state = svc.engine.state
    ticker = app[TICKER] if app[TICKER] is not None else app[METRICS].ws_ticker()
    websocket = None
    if ticker is not None:
        websocket = {
            "state": getattr(ticker, "state", None),
            "connects": getattr(ticker, "connects", 0),
            "disconnects": getattr(ticker, "disconnects", 0),
            "token_refusals": getattr(ticker, "auth_refusals", 0),
        }
    journal = svc.journal
    return {
        "mode": svc.result_mode,
        "accepting": is_accepting(svc),
        "halted": svc.halted,
        "broker_session": broker_session(svc),
        "day": state.day,
        "now_ns": svc.clock.now_ns(),
        "breakers": svc.breaker_status(),
        "counters": {
            "intents": state.intents_seen,
            "orders": len(state.orders),
            "working": sum(1 for r in state.orders.values() if r.working),
            "status_counts": dict(state.status_counts),
            "reject_reasons": dict(state.reject_reasons),
            "fills": state.fills,
        },
        "bus": [
            {
                "topic": s.topic,
                "name": s.name,
                "depth": s.depth(),
                "maxsize": s.maxsize,
                "delivered": s.delivered,
                "dropped": s.dropped,
                "failed": s.failed,
            }
            for s in svc.bus.subscriptions()
        ],
        "websocket": websocket,
        "bus_backend": svc.bus_status(),
        "journal": {
            "path": str(journal.path) if journal.path is not None else None,
            "next_seq": journal.next_seq,
            "durable_seq": journal.durable_seq,
        },
    }


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers (no token needed); and whether the Kite session works."""
    session = broker_session(request.app[SERVICE])
    if session is None:
        return json_response({"status": "ok"})
    return json_response({"status": "ok", "broker_session": session["state"]})


async def ready(request: web.Request) -> web.Response:
    """Readiness: 200 while the service accepts intents (and its Kite session works), else 503."""
    svc = request.app[SERVICE]
    session = broker_session(svc)
    accepting = is_accepting(svc) and (session is None or session["state"] == "valid")
    body: dict[str, Any] = {"ready": accepting, "halted": svc.halted, "mode": svc.result_mode}
    if session is not None:
        body["broker_session"] = session["state"]
        if session["action"]:
            body["action"] = session["action"]
    return json_response(body, status=200 if accepting else 503)


async def status(request: web.Request) -> web.Response:
    """The status snapshot (see :func:`status_snapshot`)."""
    return json_response(status_snapshot(request.app))


async def positions(request: web.Request) -> web.Response:
    """Every position of the day with its last price and P&L (realized net, unrealized at last price).

    An open position with no price since the start (a restart before its first tick) has
    ``unrealized: null``: unknown, not zero.
    """
    svc = request.app[SERVICE]
    rows = []
    for p in svc.positions():
        last = svc.engine.executor.last_price(p.symbol)
        row = msgspec.structs.asdict(p)
        row["realized_net"] = round(p.realized_net, 2)
        row["last_price"] = last
        if not p.net_qty:
            row["unrealized"] = 0.0
        else:
            row["unrealized"] = round(p.unrealized(last), 2) if last is not None else None
        rows.append(row)
    return json_response(rows)


async def orders(request: web.Request) -> web.Response:
    """Every order of the day, in the order accepted, with its latest result's status."""
    state = request.app[SERVICE].engine.state
    rows = []
    for record in state.orders.values():
        o = record.order
        latest = state.latest_results.get(o.intent_id)
        rows.append(
            {
                "order_id": o.order_id,
                "broker_order_id": record.broker_order_id,
                "intent_id": o.intent_id,
                "strategy_code": o.strategy_code,
                "symbol": o.symbol,
                "side": o.side,
                "qty": o.qty,
                "order_type": o.order_type,
                "product": o.product,
                "price": o.price,
                "filled_qty": record.filled_qty,
                "avg_price": record.avg_price,
                "working": record.working,
                "status": latest.status if latest is not None else None,
                "ts_event": o.ts_event,
            }
        )
    return json_response(rows)


async def results(request: web.Request) -> web.Response:
    """The latest result of each of the last ``limit`` intents (default 50), oldest first."""
    limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
    latest = request.app[SERVICE].engine.state.latest_results
    return json_response(list(latest.values())[-limit:])


async def journal(request: web.Request) -> web.Response:
    """A day's journal records with ``seq > since`` (default -1: from the start), at most ``limit``.

    The day is ``day=YYYY-MM-DD`` or, by default, the service's current one; the answer names it in
    ``X-Journal-Day``, so a poller holding a ``since`` learns when the date line started a new file
    (whose seqs count from 0 again) instead of silently skipping its first records.
    """
    since = int_param(request, "since", -1, -1, 2**63 - 1)
    limit = int_param(request, "limit", 1000, 1, MAX_LIMIT)
    svc = request.app[SERVICE]
    day = request.query.get("day") or svc.journal.day
    if day and not _is_day(day):
        raise BadParameter("day", day, "must be a date, YYYY-MM-DD")
    if not day:
        return json_response([])
    if is_accepting(svc) and day == svc.journal.day:
        await svc.journal.flush()  # everything handled so far is on disk before we read
    path = journal_path(request.app[JOURNAL_DIR], day)
    records = await asyncio.to_thread(read_since, path, since, limit)
    return json_response(records, headers={"X-Journal-Day": day})


async def metrics(request: web.Request) -> web.Response:
    """The registry in the Prometheus text format 0.0.4."""
    text = request.app[METRICS].registry.render()
    return web.Response(body=text.encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: ``status`` snapshots (at once, then every ``status_interval``) and ``result``s.

    Resource handling: the handler owns nothing but its hub client; it returns when the client
    disconnects (a write fails) or the app shuts down (the hub closes every client).
    """
    hub = request.app[SSE_HUB]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    client = hub.connect()
    try:
        await response.write(b"retry: 2000\n\n" + frame("status", encode(status_snapshot(request.app))))
        while not client.closed:
            try:
                async with asyncio.timeout(hub.status_interval):
                    await client.wakeup.wait()
            except TimeoutError:
                client.queue.append(frame("status", encode(status_snapshot(request.app))))
            client.wakeup.clear()
            while client.queue and not client.closed:
                await response.write(client.queue.popleft())
    except ConnectionResetError:
        pass  # the client went away: nothing to tell it
    finally:
        hub.disconnect(client)
    return response
