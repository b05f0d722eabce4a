"""Account, session and market-data endpoints: margins, profile, session token, quotes, instruments.

Handlers find the shared :class:`~execsvc.sim.core.SimCore` under :data:`~execsvc.sim.core.CORE`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from typing import Any

from aiohttp import web

from execsvc.market.instruments import DUMP_COLUMNS, dump_row
from execsvc.market.ticks import Tick
from execsvc.sim.core import CORE, SimCore
from execsvc.sim.envelope import ApiError, success
from execsvc.sim.orders import kite_time
from execsvc.sim.quotes import ltp_entry, ohlc_entry, quote_entry

__all__ = [
    "holdings",
    "instruments_csv",
    "logout",
    "margins",
    "profile",
    "quote",
    "quote_ltp",
    "quote_ohlc",
    "session_token",
]

_MARGIN_SEGMENTS = ("equity", "commodity")
_UTILISED = (
    "debits",
    "exposure",
    "m2m_realised",
    "m2m_unrealised",
    "option_premium",
    "payout",
    "span",
    "holding_sales",
    "turnover",
    "liquid_collateral",
    "stock_collateral",
    "delivery",
)


async def holdings(request: web.Request) -> web.StreamResponse:
    """``GET /portfolio/holdings``: the CNC stock earlier days left (see :mod:`execsvc.sim.holdings`)."""
    core = request.app[CORE]
    return success(core.holdings.to_list(core.book.positions, core.book.market.ticks))


_SEGMENT_EXCHANGES = {  # Kite's two margin accounts: commodity is MCX, the rest is equity
    "equity": frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD"}),
    "commodity": frozenset({"MCX"}),
}


def _segment_margins(cash: float, used: float) -> dict[str, Any]:
    used = round(used, 2)
    return {
        "enabled": True,
        "net": round(cash - used, 2),
        "available": {
            "adhoc_margin": 0,
            "cash": cash,
            "opening_balance": cash,
            "live_balance": round(cash - used, 2),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {**dict.fromkeys(_UTILISED, 0), "debits": used},
    }


async def margins(request: web.Request) -> web.StreamResponse:
    """``GET /user/margins[/{segment}]``: the configured cash less what open positions block
    (``utilised.debits``: their value with the contract multiplier, so one MCX lot blocks
    ``price * multiplier``, not ``price``)."""
    core = request.app[CORE]
    cash = core.config.available_margin
    segment = request.match_info.get("segment")
    if segment is not None and segment not in _MARGIN_SEGMENTS:
        return ApiError.input(f"Invalid segment: {segment!r}.").response()
    shown = _MARGIN_SEGMENTS if segment is None else (segment,)
    out = {s: _segment_margins(cash, core.book.positions.margin_used(_SEGMENT_EXCHANGES[s])) for s in shown}
    return success(out if segment is None else out[segment])


def _profile(core: SimCore) -> dict[str, Any]:
    user = core.config.user_id
    return {
        "user_id": user,
        "user_type": "individual",
        "email": f"{user.lower()}@example.invalid",
        "user_name": "Kite Simulator",
        "user_shortname": "Simulator",
        "broker": "ZERODHA",
        "exchanges": ["NSE", "NFO", "BFO", "CDS", "BSE", "MCX", "BCD", "MF"],
        "products": ["CNC", "NRML", "MIS", "BO", "CO"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }


async def profile(request: web.Request) -> web.StreamResponse:
    """``GET /user/profile``."""
    return success(_profile(request.app[CORE]))


async def session_token(request: web.Request) -> web.StreamResponse:
    """``POST /session/token``: checks the checksum, returns the generate_session shape."""
    core = request.app[CORE]
    form = await request.post()
    api_key, request_token, checksum = (
        str(form.get(k, "")) for k in ("api_key", "request_token", "checksum")
    )
    for name, value in (("api_key", api_key), ("request_token", request_token), ("checksum", checksum)):
        if not value:
            return ApiError.input(f"Missing or empty field `{name}`.").response()
    if core.config.require_api_key is not None and api_key != core.config.require_api_key:
        return ApiError.token("Invalid `api_key`.").response()
    secret = core.config.api_secret
    if (
        secret is not None
        and hashlib.sha256((api_key + request_token + secret).encode()).hexdigest() != checksum
    ):
        return ApiError.token("Invalid `checksum`.").response()
    access_token = core.issue_token()
    data = _profile(core)
    data.update(
        api_key=api_key,
        access_token=access_token,
        public_token=access_token[:8],
        enctoken=access_token[::-1],
        refresh_token="",
        silo="",
        login_time=kite_time(core.now_ns()),
        avatar_url="",
    )
    return success(data)


async def logout(request: web.Request) -> web.StreamResponse:
    """``DELETE /session/token``: the access token stops working."""
    core = request.app[CORE]
    core.revoke_tokens([request.query.get("access_token", "")])
    return success(True)


# -- market data --------------------------------------------------------------------------------------


def _quotes(request: web.Request, entry: Callable[[Tick, int], dict[str, Any]]) -> web.StreamResponse:
    core = request.app[CORE]
    market, now = core.book.market, core.now_ns()
    keys = request.query.getall("i", [])
    if not keys:
        return ApiError.input("Missing or empty field `i`.").response()
    out: dict[str, Any] = {}
    for key in keys:
        tick = market.lookup(key)
        if tick is not None:
            out[key] = entry(tick, now)
    return success(out)


async def quote(request: web.Request) -> web.StreamResponse:
    """``GET /quote?i=EX:SYM&i=...``: full quotes of instruments with a tick."""
    return _quotes(request, quote_entry)


async def quote_ltp(request: web.Request) -> web.StreamResponse:
    """``GET /quote/ltp``."""
    return _quotes(request, ltp_entry)


async def quote_ohlc(request: web.Request) -> web.StreamResponse:
    """``GET /quote/ohlc``."""
    return _quotes(request, ohlc_entry)


async def instruments_csv(request: web.Request) -> web.StreamResponse:
    """``GET /instruments[/{exchange}]``: Kite's instruments dump as CSV."""
    core = request.app[CORE]
    exchange = request.match_info.get("exchange")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DUMP_COLUMNS)
    market = core.book.market
    for i in market.instruments:
        if exchange is None or i.exchange == exchange:
            tick = market.get(i.key)
            last_price = tick.last_price if tick is not None else 0.0
            writer.writerow(dump_row(i, last_price=last_price, segment=i.segment or i.exchange))
    return web.Response(text=out.getvalue(), content_type="text/csv")
