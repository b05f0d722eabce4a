"""Market quotes (``/quote``, ``/quote/ltp``, ``/quote/ohlc``) from the latest tick (FACTS.md 2.2)."""

from __future__ import annotations

from typing import Any

from execsvc.market.ticks import OHLC, DepthLevel, Tick
from execsvc.sim.orders import kite_time

__all__ = ["ltp_entry", "ohlc_entry", "quote_entry"]

_NS = 1_000_000_000
_CIRCUIT = 0.10
"""Circuit band used for ``lower/upper_circuit_limit`` (a fixed 10% around the previous close)."""


def _ohlc(tick: Tick) -> dict[str, float]:
    o = tick.ohlc or OHLC()
    return {"open": o.open, "high": o.high, "low": o.low, "close": o.close}


def _levels(levels: tuple[DepthLevel, ...]) -> list[dict[str, float | int]]:
    out: list[dict[str, float | int]] = [
        {"price": lvl.price, "quantity": lvl.quantity, "orders": lvl.orders} for lvl in levels[:5]
    ]
    out += [{"price": 0, "quantity": 0, "orders": 0}] * (5 - len(out))
    return out


def ltp_entry(tick: Tick, now_ns: int = 0) -> dict[str, Any]:
    """``{"instrument_token", "last_price"}``."""
    return {"instrument_token": tick.instrument_token, "last_price": tick.last_price}


def ohlc_entry(tick: Tick, now_ns: int = 0) -> dict[str, Any]:
    """``{"instrument_token", "last_price", "ohlc"}``."""
    return {**ltp_entry(tick), "ohlc": _ohlc(tick)}


def quote_entry(tick: Tick, now_ns: int = 0) -> dict[str, Any]:
    """The full quote of one instrument (``now_ns`` stamps a tick that carries no time)."""
    close = tick.ohlc.close if tick.ohlc is not None else 0.0
    ref = close or tick.last_price
    stamp = tick.exchange_timestamp * _NS or tick.ts_event or now_ns
    depth = tick.depth
    return {
        "instrument_token": tick.instrument_token,
        "timestamp": kite_time(stamp),
        "last_trade_time": kite_time(tick.last_trade_time * _NS or stamp),
        "last_price": tick.last_price,
        "last_quantity": tick.last_traded_quantity,
        "buy_quantity": tick.total_buy_quantity,
        "sell_quantity": tick.total_sell_quantity,
        "volume": tick.volume_traded,
        "average_price": tick.average_traded_price,
        "oi": tick.oi,
        "oi_day_high": tick.oi_day_high,
        "oi_day_low": tick.oi_day_low,
        "net_change": round(tick.last_price - close, 4) if close else 0,
        "lower_circuit_limit": round(ref * (1 - _CIRCUIT), 2),
        "upper_circuit_limit": round(ref * (1 + _CIRCUIT), 2),
        "ohlc": _ohlc(tick),
        "depth": {
            "buy": _levels(depth.buy if depth is not None else ()),
            "sell": _levels(depth.sell if depth is not None else ()),
        },
    }
