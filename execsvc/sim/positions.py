"""Kite positions, aggregated per (exchange, tradingsymbol, product) from the simulator's fills.

The simulator marks no position as overnight, so ``net`` and ``day`` hold the same rows and the
``day_*`` fields equal the totals. At its day boundary the CNC rows move into the holdings
(:mod:`execsvc.sim.holdings`); the others stay as they are. Field meanings follow FACTS.md 2.2:
``value = sell_value - buy_value``; ``pnl = value + quantity * last_price * multiplier``;
``average_price`` is the average cost of the open quantity; ``realised`` is what closing fills
locked in, ``unrealised`` the rest. Values and P&L include the contract's ``multiplier`` (MCX,
CDS, BCD: Kite's quantity is in lots; LEADMINI's 1000 makes a buy of 1 at 161.05 a ``buy_value``
of 161050), prices and quantities do not.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from execsvc.market.instruments import Instruments
from execsvc.market.multipliers import multiplier_of
from execsvc.market.ticks import Tick

__all__ = ["PositionBook", "SimPosition"]


@dataclass(kw_only=True, slots=True)
class SimPosition:
    """One position row."""

    exchange: str
    tradingsymbol: str
    instrument_token: int
    product: str
    quantity: int = 0
    average_price: float = 0.0
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0
    realised: float = 0.0
    multiplier: float = 1.0

    def apply(self, side: str, qty: int, price: float) -> None:
        """Fold one fill in."""
        signed = qty if side == "BUY" else -qty
        value = qty * price * self.multiplier
        if side == "BUY":
            self.buy_quantity += qty
            self.buy_value += value
        else:
            self.sell_quantity += qty
            self.sell_value += value
        old = self.quantity
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            self.average_price = (self.average_price * abs(old) + price * qty) / abs(new)
        else:
            closed = min(abs(old), qty)
            direction = 1 if old > 0 else -1
            self.realised += (price - self.average_price) * closed * direction * self.multiplier
            if new == 0:
                self.average_price = 0.0
            elif (new > 0) != (old > 0):
                self.average_price = price
        self.quantity = new

    def to_dict(self, last_price: float, close_price: float) -> dict[str, Any]:
        """The row as ``GET /portfolio/positions`` returns it."""
        m = self.multiplier
        value = self.sell_value - self.buy_value
        pnl = value + self.quantity * last_price * m
        unrealised = (last_price - self.average_price) * self.quantity * m if self.quantity else 0.0
        buy_price = self.buy_value / (self.buy_quantity * m) if self.buy_quantity else 0.0
        sell_price = self.sell_value / (self.sell_quantity * m) if self.sell_quantity else 0.0
        return {
            "tradingsymbol": self.tradingsymbol,
            "exchange": self.exchange,
            "instrument_token": self.instrument_token,
            "product": self.product,
            "quantity": self.quantity,
            "overnight_quantity": 0,
            "multiplier": int(m) if m.is_integer() else m,
            "average_price": round(self.average_price, 4),
            "close_price": close_price,
            "last_price": last_price,
            "value": round(value, 4),
            "pnl": round(pnl, 4),
            "m2m": round(pnl, 4),
            "unrealised": round(unrealised, 4),
            "realised": round(self.realised, 4),
            "buy_quantity": self.buy_quantity,
            "buy_price": round(buy_price, 4),
            "buy_value": round(self.buy_value, 4),
            "buy_m2m": round(self.buy_value, 4),
            "sell_quantity": self.sell_quantity,
            "sell_price": round(sell_price, 4),
            "sell_value": round(self.sell_value, 4),
            "sell_m2m": round(self.sell_value, 4),
            "day_buy_quantity": self.buy_quantity,
            "day_buy_price": round(buy_price, 4),
            "day_buy_value": round(self.buy_value, 4),
            "day_sell_quantity": self.sell_quantity,
            "day_sell_price": round(sell_price, 4),
            "day_sell_value": round(self.sell_value, 4),
        }


class PositionBook:
    """Every position of the day, in the order first traded."""

    def __init__(
        self, multipliers: Mapping[str, float] | None = None, instruments: Instruments | None = None
    ) -> None:
        """``multipliers``: the contracts' (``SimConfig.multipliers``); one with none is taken as 1."""
        self.rows: dict[tuple[str, str, str], SimPosition] = {}
        self._multipliers = multipliers or {}
        self._instruments = instruments or Instruments()

    def multiplier(self, symbol: str) -> float:
        """The contract multiplier of ``EXCHANGE:TRADINGSYMBOL`` (1 when none is configured)."""
        return multiplier_of(symbol, self._multipliers, self._instruments) or 1.0

    def margin_used(self, exchanges: Container[str]) -> float:
        """What the open positions on ``exchanges`` block: their value at the average price, with
        the multiplier (a plain full-value stand-in for Kite's SPAN and exposure margins)."""
        return sum(
            abs(row.quantity) * row.average_price * row.multiplier
            for row in self.rows.values()
            if row.exchange in exchanges
        )

    def apply(
        self, exchange: str, tradingsymbol: str, token: int, product: str, side: str, qty: int, price: float
    ) -> SimPosition:
        """Fold a fill into its row (created on first use) and return the row."""
        key = (exchange, tradingsymbol, product)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = SimPosition(
                exchange=exchange,
                tradingsymbol=tradingsymbol,
                instrument_token=token,
                product=product,
                multiplier=self.multiplier(f"{exchange}:{tradingsymbol}"),
            )
        row.apply(side, qty, price)
        return row

    def to_dict(self, ticks: Mapping[str, Tick]) -> dict[str, list[dict[str, Any]]]:
        """``{"net": [...], "day": [...]}`` marked at the latest ticks."""
        rows = []
        for row in self.rows.values():
            tick = ticks.get(f"{row.exchange}:{row.tradingsymbol}")
            last = tick.last_price if tick is not None else row.average_price
            close = tick.ohlc.close if tick is not None and tick.ohlc is not None else 0.0
            rows.append(row.to_dict(last, close))
        return {"net": rows, "day": [dict(r) for r in rows]}
