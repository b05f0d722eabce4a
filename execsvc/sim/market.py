"""The simulator's market state: instruments and the latest tick of each.

An instrument the dump does not know becomes tradable as soon as a tick names it by
``EXCHANGE:TRADINGSYMBOL``: it gets a synthetic token in its exchange's segment and the
instrument type its symbol ends in (``FUT``, ``CE``, ``PE``; else ``EQ``).
"""

from __future__ import annotations

import itertools

import msgspec

from execsvc.market.instruments import Instrument, Instruments, instrument_type_of
from execsvc.market.ticks import Tick

__all__ = ["SEGMENTS", "MarketState"]

SEGMENTS = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7}
"""Exchange -> the segment byte of its instrument tokens (``token & 0xFF``, FACTS.md 4.4)."""


class MarketState:
    """Instruments (a private copy, grown by ticks) and the latest tick per ``EXCHANGE:TRADINGSYMBOL``.

    Args:
        instruments: reference data.
        default_tick_size: tick size of instruments first seen in ticks.
    """

    def __init__(self, instruments: Instruments, default_tick_size: float = 0.05) -> None:
        self.instruments = Instruments(instruments)
        self.default_tick_size = default_tick_size
        self.ticks: dict[str, Tick] = {}
        self._synthetic = itertools.count(900_000)

    def tick_size_of(self, symbol: str) -> float | None:
        """The tick size of ``EXCHANGE:TRADINGSYMBOL``, or None when the simulator does not know it
        or it is an index (no order can name one; the dump gives it a tick of 0)."""
        inst = self.instruments.by_key(symbol)
        return inst.tick_size if inst is not None and inst.tradable else None

    def get(self, symbol: str) -> Tick | None:
        """The latest tick of ``EXCHANGE:TRADINGSYMBOL``."""
        return self.ticks.get(symbol)

    def by_token(self, token: int) -> Tick | None:
        """The latest tick of an instrument token."""
        inst = self.instruments.by_token(token)
        return self.ticks.get(inst.key if inst is not None else f"TOKEN:{token}")

    def lookup(self, key: str) -> Tick | None:
        """The latest tick for ``EXCHANGE:TRADINGSYMBOL`` or a numeric instrument token."""
        return self.by_token(int(key)) if key.isdigit() else self.get(key)

    def normalize(self, tick: Tick) -> Tick:
        """The tick with both its symbol and its token set (unknown symbols get a synthetic token)."""
        symbol, token = tick.symbol, tick.instrument_token
        inst = self.instruments.by_key(symbol) if symbol else None
        if inst is None and token:
            inst = self.instruments.by_token(token)
        if inst is None:
            exchange, _, name = symbol.partition(":")
            if not name or exchange == "TOKEN":
                return tick
            if not token:
                token = next(self._synthetic) << 8 | SEGMENTS.get(exchange, 1)
            inst = Instrument(
                instrument_token=token,
                exchange=exchange,
                tradingsymbol=name,
                tick_size=self.default_tick_size,
                # a future named by a tick is a future: the session calendar lets only futures
                # into the F&O pre-open
                instrument_type=instrument_type_of(exchange, name) or "EQ",
            )
            self.instruments.add(inst)
        if tick.symbol != inst.key or tick.instrument_token != inst.instrument_token:
            tick = msgspec.structs.replace(tick, symbol=inst.key, instrument_token=inst.instrument_token)
        return tick

    def update(self, tick: Tick) -> Tick:
        """Normalize and store a tick; returns it as stored."""
        tick = self.normalize(tick)
        self.ticks[tick.symbol] = tick
        return tick
