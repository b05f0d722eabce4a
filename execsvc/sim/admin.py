"""Admin endpoints for tests and drills (no auth, not counted, not rate limited).

``GET /_admin/stats``, ``GET /_admin/orders``, ``POST /_admin/tick`` (a ``Tick`` or a list of them as
JSON), ``GET|POST /_admin/faults`` (read, or replace, the faults: :mod:`execsvc.sim.faults`),
``POST /_admin/reset``, ``POST /_admin/step`` (``{"count": N}``: the tick file's next N ticks),
``POST /_admin/session`` (``{"revoke": "all"}`` or ``{"revoke": [tokens]}``: end API sessions as a
Kite web logout or the 6 AM expiry does, see ``SimCore.revoke_tokens``).
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from execsvc.errors import ConfigError
from execsvc.market.ticks import Tick
from execsvc.sim.core import CORE
from execsvc.sim.envelope import ApiError, json_response
from execsvc.sim.faults import decode_faults

__all__ = ["add_admin_routes"]

_TICKS = msgspec.json.Decoder(Tick | list[Tick])


async def admin_stats(request: web.Request) -> web.StreamResponse:
    """``GET /_admin/stats``: the counters of :class:`~execsvc.sim.limits.SimStats`."""
    return json_response(request.app[CORE].stats.to_dict())


async def admin_orders(request: web.Request) -> web.StreamResponse:
    """``GET /_admin/orders``: every order (with tags)."""
    return json_response(request.app[CORE].orders())


async def admin_tick(request: web.Request) -> web.StreamResponse:
    """``POST /_admin/tick``: push one tick (or a list) given as JSON ``Tick`` fields."""
    core = request.app[CORE]
    try:
        decoded = _TICKS.decode(await request.read())
    except msgspec.DecodeError as exc:
        return ApiError.input(f"bad tick: {exc}").response()
    ticks = decoded if isinstance(decoded, list) else [decoded]
    pushed = [core.push_tick(t) for t in ticks]
    return json_response({"pushed": len(pushed), "tokens": [t.instrument_token for t in pushed]})


async def admin_faults(request: web.Request) -> web.StreamResponse:
    """``GET|POST /_admin/faults``: the faults in force (POST replaces them first)."""
    core = request.app[CORE]
    if request.method == "POST":
        try:
            core.set_faults(decode_faults(msgspec.json.decode(await request.read() or b"{}")))
        except (msgspec.DecodeError, ConfigError) as exc:
            return ApiError.input(str(exc)).response()
    return json_response(core.faults.remaining())


async def admin_reset(request: web.Request) -> web.StreamResponse:
    """``POST /_admin/reset``: forget orders, trades, positions, stats and faults (the market stays)."""
    request.app[CORE].reset()
    return json_response({"reset": True})


async def admin_step(request: web.Request) -> web.StreamResponse:
    """``POST /_admin/step`` with ``{"count": N}``: push the tick file's next N ticks."""
    core = request.app[CORE]
    body = await request.read()
    try:
        count = int(msgspec.json.decode(body).get("count", 1)) if body else 1
    except (msgspec.DecodeError, AttributeError, TypeError, ValueError) as exc:
        return ApiError.input(f"bad step: {exc}").response()
    pushed = core.feed.step(count) if core.feed is not None else 0
    return json_response({"pushed": pushed})


async def admin_session(request: web.Request) -> web.StreamResponse:
    """``POST /_admin/session`` with ``{"revoke": "all"}`` (every token seen) or ``{"revoke": [...]}``."""
    body = await request.read()
    try:
        revoke = msgspec.json.decode(body).get("revoke", "all") if body else "all"
    except (msgspec.DecodeError, AttributeError) as exc:
        return ApiError.input(f"bad session request: {exc}").response()
    if revoke != "all" and not (isinstance(revoke, list) and all(isinstance(t, str) for t in revoke)):
        return ApiError.input('revoke: expected "all" or a list of access tokens').response()
    count = request.app[CORE].revoke_tokens(None if revoke == "all" else [str(t) for t in revoke])
    return json_response({"revoked": count})  # a count: the tokens themselves are not echoed


def add_admin_routes(app: web.Application) -> None:
    """Register the admin endpoints on ``app``."""
    r = app.router
    r.add_get("/_admin/stats", admin_stats)
    r.add_get("/_admin/orders", admin_orders)
    r.add_post("/_admin/tick", admin_tick)
    r.add_get("/_admin/faults", admin_faults)
    r.add_post("/_admin/faults", admin_faults)
    r.add_post("/_admin/reset", admin_reset)
    r.add_post("/_admin/step", admin_step)
    r.add_post("/_admin/session", admin_session)
