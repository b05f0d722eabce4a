"""Market data events: ``Tick`` and its depth, with Kite's field names.

A tick is what the Kite WebSocket sends for one instrument (FACTS.md section 4), decoded once at the
edge. Prices are rupees (floats, already divided by the segment's divisor); Kite's own timestamps are
unix seconds; ``ts_event`` is the integer-nanosecond time that drives the replay clock (the frame's
receive time when recorded, else the exchange timestamp).
"""

from __future__ import annotations

import msgspec


class DepthLevel(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One level of the order book: quantity, price, number of orders."""

    quantity: int
    price: float
    orders: int = 0


class Depth(msgspec.Struct, frozen=True, gc=False):
    """Five bid (``buy``) and five offer (``sell``) levels, best first."""

    buy: tuple[DepthLevel, ...] = ()
    sell: tuple[DepthLevel, ...] = ()


class OHLC(msgspec.Struct, frozen=True, gc=False):
    """The day's open, high and low, and the previous day's close."""

    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0


class Tick(msgspec.Struct, frozen=True, gc=False, tag="tick", omit_defaults=True):
    """One market-data update for one instrument.

    ``symbol`` is ``EXCHANGE:TRADINGSYMBOL``; a reader fills it from the instruments dump when the
    source only carries ``instrument_token``.
    """

    symbol: str
    last_price: float
    instrument_token: int = 0
    ts_event: int = 0
    last_traded_quantity: int = 0
    average_traded_price: float = 0.0
    volume_traded: int = 0
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    ohlc: OHLC | None = None
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    last_trade_time: int = 0
    exchange_timestamp: int = 0
    depth: Depth | None = None
    mode: str = "full"
    tradable: bool = True

    @property
    def best_bid(self) -> DepthLevel | None:
        """The best bid level with a positive quantity, if the tick carries depth."""
        depth = self.depth
        if depth is None:
            return None
        for level in depth.buy:
            if level.quantity > 0 and level.price > 0:
                return level
        return None

    @property
    def best_ask(self) -> DepthLevel | None:
        """The best offer level with a positive quantity, if the tick carries depth."""
        depth = self.depth
        if depth is None:
            return None
        for level in depth.sell:
            if level.quantity > 0 and level.price > 0:
                return level
        return None
