"""Contract multipliers: the rupees one unit of ``quantity`` moves per rupee of price.

On NSE, BSE, NFO and BFO an order's quantity is in units (shares; for F&O, contracts times the
lot size the instruments dump gives), so the traded value is ``quantity * price``. On MCX and the
currency segments (CDS, BCD) Kite counts quantity in lots, the dump shows ``lot_size`` 1, and money
moves by ``quantity * price * multiplier``: the P&L multiplier Kite's positions carry, 1000 for
LEADMINI, 100 for CRUDEOIL (FACTS.md 2.2). The dump has no multiplier column, so it is configured,
``market.multipliers``::

    market:
      multipliers:
        MCX:CRUDEOIL: 100            # every contract of an underlying: EXCHANGE:NAME (the dump's name)
        MCX:LEADMINI26DECFUT: 1000   # one contract: EXCHANGE:TRADINGSYMBOL (wins over its name)

A contract of MCX, CDS or BCD with neither has no known multiplier, and an order for it is refused
at validation: valuing it at 1 would understate its P&L, its charges and every money breaker by
the multiplier. The multiplier an order was accepted with is journaled with it and with each of its
fills (``OrderAccepted.multiplier``, ``Fill.multiplier``), so the fold, a restart and a replay of a
journal value it the same whatever the config says later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from execsvc.errors import ValidationError
from execsvc.market.instruments import Instrument, Instruments
from execsvc.positions import Position

__all__ = [
    "LOT_EXCHANGES",
    "Multipliers",
    "check_multipliers",
    "missing_multiplier",
    "multiplier_field",
    "multiplier_of",
    "underlying_name",
]

LOT_EXCHANGES = frozenset({"MCX", "CDS", "BCD"})
"""Where Kite's quantity is in lots and a contract has a multiplier of its own."""

UNIT_EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO"})
"""Where quantity is in units: the multiplier is 1, without configuration."""

MAX_MULTIPLIER = 1_000_000.0
"""Above it a multiplier is a typo: with ``validation``'s price and quantity bounds a value of
``qty * price * multiplier`` could overflow to infinity, which the journal cannot hold (JSON has no
infinity: it would be written as null and the day would not fold back)."""

# the underlying is the letters before the expiry's two-digit year: CRUDEOIL26DECFUT, USDINR26D1183CE
_NAME_RE = re.compile(r"([A-Z]+)\d{2}")


def underlying_name(symbol: str, lookup: Callable[[str], Instrument | None]) -> str | None:
    """The underlying's ``name`` of ``EXCHANGE:TRADINGSYMBOL``: the dump's (``lookup``), else the
    letters before the expiry in the trading symbol; None when neither tells."""
    inst = lookup(symbol)
    if inst is not None and inst.name:
        return inst.name
    match = _NAME_RE.match(symbol.partition(":")[2])
    return match.group(1) if match else None


def multiplier_of(symbol: str, table: Mapping[str, float], instruments: Instruments) -> float | None:
    """The contract multiplier of ``EXCHANGE:TRADINGSYMBOL``.

    Args:
        symbol: the normalised symbol.
        table: ``market.multipliers`` (keys ``EXCHANGE:TRADINGSYMBOL`` or ``EXCHANGE:NAME``).
        instruments: the dump, for the contract's underlying name.

    Returns:
        1.0 off MCX, CDS and BCD; there, the symbol's entry, else its underlying's; None when the
        table has neither (the caller refuses the order rather than guess).
    """
    exchange = symbol.partition(":")[0]
    if exchange not in LOT_EXCHANGES:
        return 1.0
    found = table.get(symbol)
    if found is None:
        name = underlying_name(symbol, instruments.by_key)
        found = table.get(f"{exchange}:{name}") if name else None
    return found


def missing_multiplier(symbol: str, lookup: Callable[[str], Instrument | None]) -> str:
    """Why an order for ``symbol`` is refused when its multiplier is not known: names the setting."""
    exchange = symbol.partition(":")[0]
    name = underlying_name(symbol, lookup)
    key = f"{exchange}:{name}" if name else symbol
    return (
        f"no contract multiplier known for {symbol}: set market.multipliers['{key}'] "
        "(Kite's positions show it as `multiplier`, e.g. 100 for MCX:CRUDEOIL); "
        f"{exchange} quantities are in lots, so valuing it at 1 would understate its P&L and charges"
    )


class Multipliers:
    """The multipliers an executor values orders with: the config's, else the journal's.

    Args:
        table: ``market.multipliers``.
        instruments: the dump (underlying names).
        positions: the folded positions: one held open in a contract the table no longer knows
            still has the multiplier it was journaled with, so it can be closed.
    """

    def __init__(
        self,
        table: Mapping[str, float],
        instruments: Instruments,
        positions: Callable[[], Iterable[Position]] = tuple,
    ) -> None:
        self.table = dict(table)
        self.instruments = instruments
        self._positions = positions

    def configured(self, symbol: str) -> float | None:
        """The config's multiplier of ``EXCHANGE:TRADINGSYMBOL`` alone (1 off MCX, CDS and BCD)."""
        return multiplier_of(symbol, self.table, self.instruments)

    def of(self, symbol: str) -> float | None:
        """The multiplier of ``EXCHANGE:TRADINGSYMBOL``; None when neither the config nor an open
        position knows it."""
        if symbol.partition(":")[0] not in LOT_EXCHANGES:  # most orders: 1, without the lookups
            return 1.0
        found = self.configured(symbol)
        if found is None:
            held = (p.multiplier for p in self._positions() if p.symbol == symbol and p.net_qty)
            found = next(held, None)
        return found

    def for_order(self, symbol: str) -> float:
        """:meth:`of`, for an order about to be accepted.

        Raises:
            ValidationError: none is known (validation refuses such an intent before it gets here).
        """
        found = self.of(symbol)
        if found is None:
            raise ValidationError(missing_multiplier(symbol, self.instruments.by_key))
        return found


def multiplier_field(multiplier: float) -> dict[str, Any]:
    """``{"multiplier": m}`` for an event or position, or nothing when it is 1: the journal's
    encoder omits defaults only when they are passed as the default object itself, so an NSE
    record stays as it was."""
    return {} if multiplier == 1.0 else {"multiplier": multiplier}


def check_multipliers(table: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every bad ``market.multipliers`` entry."""
    for key, value in table.items():
        path = f"market.multipliers[{key!r}]"
        exchange, colon, rest = key.partition(":")
        if not colon or not rest or exchange not in LOT_EXCHANGES | UNIT_EXCHANGES:
            yield path, value, "the key must be EXCHANGE:NAME or EXCHANGE:TRADINGSYMBOL (MCX, CDS or BCD)"
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            yield path, value, "must be a positive number"
        elif value > MAX_MULTIPLIER:
            yield path, value, f"must be at most {MAX_MULTIPLIER:,.0f} (MCX's are 1 to a few thousand)"
        elif exchange in UNIT_EXCHANGES and value != 1:
            yield path, value, f"{exchange} quantities are in units: its multiplier is 1"
