"""The aiohttp application speaking Kite Connect v3's REST API (FACTS.md 1-3, 5).

Every API request passes one middleware, in this order: fault latency; counting (``stats``);
a forced 429 (``http_429`` fault, order requests only); the rate limits (429 ``NetworkException``
"Too many requests"); ``X-Kite-Version: 3`` and ``Authorization: token <api_key>:<access_token>``
(except ``/session/token``); an ``http_5xx`` fault (before the handler, or after it with
``placed``); the account's day boundary (``SimCore.roll_day``), if the clock crossed the date
line. Router misses and unexpected errors still answer with a Kite error envelope.
Admin endpoints (``/_admin/*``) and the WebSocket (``/``) skip all of that; the WebSocket checks its
own query-string credentials.

Handlers: orders here, account/session/market data in :mod:`execsvc.sim.account`, admin
endpoints in :mod:`execsvc.sim.admin`, the WebSocket in :mod:`execsvc.sim.ws`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from execsvc.sim import account
from execsvc.sim.admin import add_admin_routes
from execsvc.sim.core import CORE, SimCore
from execsvc.sim.envelope import ApiError, error_body, json_response, success
from execsvc.sim.freeze import freeze_reject
from execsvc.sim.holdings import holdings_reject, modify_holdings_reject
from execsvc.sim.iceberg import iceberg_reject, modified_iceberg_reject
from execsvc.sim.limits import Category
from execsvc.sim.lots import lot_reject
from execsvc.sim.orders import SimOrder
from execsvc.sim.params import parse_place

__all__ = ["build_app"]

log = logging.getLogger(__name__)

_API_KEY = web.RequestKey("kite_sim_api_key", str)
"""The api_key of an authenticated request (whose orders it places)."""


def _category(method: str, path: str) -> Category:
    if path.startswith("/orders/") and method in ("POST", "PUT", "DELETE"):
        return "orders"
    if path == "/quote" or path.startswith("/quote/"):
        return "quote"
    return "other"


def _credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "token" or ":" not in value:
        return None, None
    api_key, _, token = value.strip().partition(":")
    return api_key, token


@web.middleware
async def _kite(request: web.Request, handler: Any) -> web.StreamResponse:
    core = request.app[CORE]
    path, method = request.path, request.method
    try:
        if path.startswith("/_admin/") or path == "/":
            response: web.StreamResponse = await handler(request)
            return response
        delay = core.faults.latency_s(method, path)
        if delay:
            core.stats.held_by_latency += 1
            core.notify_changed()
            core.held.add(request.task)
            try:
                await asyncio.sleep(delay)
            finally:
                core.held.discard(request.task)
        category = _category(method, path)
        now = core.now_ns()
        core.stats.request(category, now)
        if category == "orders" and method == "DELETE":
            core.stats.cancels_seen += 1
        core.notify_changed()
        if category == "orders" and core.faults.take_429():
            core.stats.forced_429 += 1
            return ApiError.too_many().response()
        if not core.limiter.admit(category, now, placement=category == "orders" and method == "POST"):
            core.stats.rejected_429[category] += 1
            return ApiError.too_many().response()
        if path != "/session/token":
            if request.headers.get("X-Kite-Version") != "3":
                return ApiError.input("Missing or invalid `X-Kite-Version` header (expected 3).").response()
            api_key, token = _credentials(request.headers.get("Authorization", ""))
            denied = core.check_auth(api_key, token)
            if denied is not None:
                core.stats.token_refused += 1
                return denied.response()
            request[_API_KEY] = api_key or ""
        rule = core.faults.take_5xx(method, path)
        if rule is not None and not rule.placed:
            core.stats.http_5xx += 1
            return json_response(error_body(rule.message, rule.kite_error_type), status=rule.status)
        core.roll_day()  # a request after the date line reads the new day's account
        try:
            response = await handler(request)
        finally:
            core.notify_changed()
        if rule is not None:
            core.stats.http_5xx += 1
            return json_response(error_body(rule.message, rule.kite_error_type), status=rule.status)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_type = "InputException" if exc.status in (404, 405) else "GeneralException"
        return json_response(error_body(f"{exc.reason}: {method} {path}", error_type), status=exc.status)
    except Exception:
        log.exception("kite-sim: %s %s failed", method, path)
        return json_response(error_body("Internal server error.", "GeneralException"), status=500)


# -- orders -------------------------------------------------------------------------------------------


async def place_order(request: web.Request) -> web.StreamResponse:
    """``POST /orders/{variety}``: ``{"order_id": ...}``."""
    core = request.app[CORE]
    form = await request.post()
    req = parse_place(request.match_info["variety"], form, core.book.market.tick_size_of)
    if isinstance(req, ApiError):
        return req.response()
    instrument = core.book.market.instruments.by_key(req.symbol)
    if (off_grid := lot_reject(req.quantity, instrument)) is not None:
        return off_grid.response()  # refused before the order book, as Kite's does
    if req.variety == "iceberg" and req.iceberg_legs and req.iceberg_quantity:
        uncut = iceberg_reject(req.quantity, req.iceberg_legs, req.iceberg_quantity, instrument)
        if uncut is not None:  # legs Kite would not cut as asked (UNCONFIRMED: see sim.iceberg)
            return uncut.response()
    # an iceberg's legs reach the exchange one by one: a leg is what the freeze quantity caps
    units = req.iceberg_quantity if req.variety == "iceberg" and req.iceberg_quantity else req.quantity
    if (too_many := freeze_reject(units, instrument, core.freeze)) is not None:
        return too_many.response()  # refused before the order book, as Kite's does
    now = core.now_ns()
    kind = core.book.market.instruments.instrument_type(req.symbol)
    goes = core.session.placement(
        req.exchange,
        req.variety,
        kind,
        now,
        order_type=req.order_type,
        validity=req.validity,
        symbol=req.symbol,
    )
    if isinstance(goes, ApiError):  # a regular order out of market hours (with the calendar)
        return goes.response()
    reject, raw = core.faults.take_reject(), None
    if reject is None:  # Zerodha's RMS: no delivery sale beyond holdings
        reject, raw = holdings_reject(req, core.holdings, core.book.positions, core.book.orders.values())
    marketable = reject is None and goes == "now" and core.book.marketable(req)
    fraction = core.faults.take_partial() if marketable else None
    order, updates = core.book.place(
        req, request[_API_KEY], now, reject_with=reject, reject_raw=raw, fill_fraction=fraction, goes=goes
    )
    core.stats.placement(req.tag)
    core.dispatch(updates)
    if core.faults.take_drop():
        core.stats.dropped_connections += 1
        if request.transport is not None:
            request.transport.close()
        # Nothing can be written any more; aiohttp discards this response quietly.
        return web.Response(status=200)
    return success({"order_id": order.order_id})


async def modify_order(request: web.Request) -> web.StreamResponse:
    """``PUT /orders/{variety}/{order_id}``."""
    core = request.app[CORE]
    form = await request.post()
    order_id = request.match_info["order_id"]

    def rms(order: SimOrder, quantity: int) -> ApiError | None:  # lot size, freeze limit, holdings
        instrument = core.book.market.instruments.by_key(order.symbol)
        if (off_grid := lot_reject(quantity, instrument)) is not None:
            return off_grid
        legs = order.meta.get("iceberg", {}).get("legs") if order.variety == "iceberg" else None
        if legs and (uncut := modified_iceberg_reject(quantity, order.quantity, legs, instrument)):
            return uncut  # its legs become the new total over them (UNCONFIRMED: see sim.iceberg)
        units = -(-quantity // legs) if legs else quantity  # an iceberg's legs are the exchange's orders
        if (too_many := freeze_reject(units, instrument, core.freeze)) is not None:
            return too_many
        orders = core.book.orders.values()
        return modify_holdings_reject(order, quantity, core.holdings, core.book.positions, orders)

    result = core.book.modify(order_id, request.match_info["variety"], form, core.now_ns(), rms=rms)
    if isinstance(result, ApiError):
        return result.response()
    core.stats.modifications += 1
    core.dispatch(result)
    return success({"order_id": order_id})


async def cancel_order(request: web.Request) -> web.StreamResponse:
    """``DELETE /orders/{variety}/{order_id}``."""
    core = request.app[CORE]
    order_id = request.match_info["order_id"]
    core.stats.cancel_requests += 1
    order = core.book.orders.get(order_id)
    refusal = core.faults.take_refuse_cancel() if order is not None and order.working else None
    if refusal is not None:  # as Kite refuses one while the order is in an interim state
        core.stats.cancels_refused += 1
        return ApiError.order(refusal).response()
    result = core.book.cancel(order_id, request.match_info["variety"], core.now_ns())
    if isinstance(result, ApiError):
        return result.response()
    core.stats.cancellations += 1
    core.dispatch(result)
    return success({"order_id": order_id})


async def list_orders(request: web.Request) -> web.StreamResponse:
    """``GET /orders``."""
    return success(request.app[CORE].orders())


async def order_history(request: web.Request) -> web.StreamResponse:
    """``GET /orders/{order_id}``: one entry per state transition, oldest first."""
    order = request.app[CORE].book.orders.get(request.match_info["order_id"])
    if order is None:
        return ApiError.input(f"Invalid `order_id`: {request.match_info['order_id']!r}.").response()
    return success(order.history)


async def list_trades(request: web.Request) -> web.StreamResponse:
    """``GET /trades``."""
    return success(request.app[CORE].book.trades)


async def order_trades(request: web.Request) -> web.StreamResponse:
    """``GET /orders/{order_id}/trades``."""
    result = request.app[CORE].book.order_trades(request.match_info["order_id"])
    return result.response() if isinstance(result, ApiError) else success(result)


async def positions(request: web.Request) -> web.StreamResponse:
    """``GET /portfolio/positions``."""
    return success(request.app[CORE].book.positions_dict())


# -- WebSocket ----------------------------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    """``GET /?api_key=..&access_token=..``: the Kite ticker WebSocket (see :mod:`execsvc.sim.ws`)."""
    core = request.app[CORE]
    api_key, token = request.query.get("api_key"), request.query.get("access_token")
    denied = core.check_auth(api_key, token)
    if denied is not None:
        core.stats.ws_token_refused += 1
        core.notify_changed()  # a test may await the refusal
        return denied.response()
    assert api_key is not None and token is not None
    return await core.hub.handle(request, api_key, token)


def build_app(core: SimCore) -> web.Application:
    """The simulator's aiohttp application over ``core`` (composition: no subclassing)."""
    app = web.Application(middlewares=[_kite])
    app[CORE] = core
    r = app.router
    r.add_get("/", websocket)
    r.add_post("/orders/{variety}", place_order)
    r.add_put("/orders/{variety}/{order_id}", modify_order)
    r.add_delete("/orders/{variety}/{order_id}", cancel_order)
    r.add_get("/orders", list_orders)
    r.add_get("/orders/{order_id}", order_history)
    r.add_get("/orders/{order_id}/trades", order_trades)
    r.add_get("/trades", list_trades)
    r.add_get("/portfolio/positions", positions)
    r.add_get("/portfolio/holdings", account.holdings)
    r.add_get("/user/margins", account.margins)
    r.add_get("/user/margins/{segment}", account.margins)
    r.add_get("/user/profile", account.profile)
    r.add_post("/session/token", account.session_token)
    r.add_delete("/session/token", account.logout)
    r.add_get("/quote", account.quote)
    r.add_get("/quote/ltp", account.quote_ltp)
    r.add_get("/quote/ohlc", account.quote_ohlc)
    r.add_get("/instruments", account.instruments_csv)
    r.add_get("/instruments/{exchange}", account.instruments_csv)
    add_admin_routes(app)
    return app
