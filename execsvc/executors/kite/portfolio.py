"""The journal's positions against the broker's portfolio: pure functions, no I/O.

Kite shows a position under ``GET /portfolio/positions`` for as long as it is a position: an
intraday one for its day, an F&O (NRML) one until it is closed or expires, with what was carried
in from earlier days in ``overnight_quantity`` (FACTS.md 2.2). Equity delivery (CNC) is different:
stock bought CNC shows under positions on the day it was bought only; from the next trading day it
is in the demat account, under ``GET /portfolio/holdings`` (as ``t1_quantity`` until it settles),
and a sale of it shows in that day's positions as a negative CNC quantity (and in the holding's
``used_quantity``). So a CNC position the journal carried in is compared in two parts:

- today's activity (the journal's net less what it carried in) against the broker's CNC position
  (its net less any ``overnight_quantity``), exactly, like every other product;
- what the journal carried in against what the broker holds: holdings (``quantity +
  t1_quantity``, NSE and BSE together, by trading symbol: a demat holding belongs to no exchange)
  plus any CNC ``overnight_quantity`` still shown under positions. Holdings may hold stock
  execsvc never bought, so the broker must hold at least what the journal carried, not the same.
  A carried CNC quantity of zero or less needs nothing held: a sale of stock execsvc did not buy
  leaves the journal short, and the broker has that much less in holdings.

Assumed, not documented by Kite: ``quantity`` excludes ``t1_quantity`` (were it included, the
check would be lenient by the unsettled part, never halt wrongly), and a sale today leaves
``quantity`` alone until the next day (it shows in ``used_quantity``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from execsvc.executors.kite.models import KiteHolding, KitePosition
from execsvc.order_record import OrderRecord
from execsvc.positions import Position

__all__ = [
    "Quantities",
    "booked_at_other_multipliers",
    "broker_holdings",
    "broker_multipliers",
    "broker_positions",
    "day_bookings",
    "journal_positions",
    "multiplier_mismatches",
    "position_mismatches",
]

Key = tuple[str, str]
"""(symbol ``EXCHANGE:TRADINGSYMBOL``, product)."""

DELIVERY = "CNC"
_DEMAT_EXCHANGES = ("NSE", "BSE")


class Quantities(NamedTuple):
    """A net position and how much of it was carried in from earlier days."""

    net: int
    carried: int = 0

    @property
    def today(self) -> int:
        """The day's own activity: the net less what was carried in."""
        return self.net - self.carried


def journal_positions(positions: Iterable[Position], carried: Mapping[Key, int]) -> dict[Key, Quantities]:
    """The journal's positions summed over strategies, with what the day carried in.

    Args:
        positions: the folded positions (per strategy, symbol and product).
        carried: net quantity brought in from the last journaled day, per (symbol, product).
    """
    net: dict[Key, int] = {}
    for pos in positions:
        key = (pos.symbol, pos.product)
        net[key] = net.get(key, 0) + pos.net_qty
    for key in carried:
        net.setdefault(key, 0)
    return {key: Quantities(qty, carried.get(key, 0)) for key, qty in net.items()}


def broker_positions(rows: Iterable[KitePosition]) -> dict[Key, Quantities]:
    """The broker's ``net`` positions, with their ``overnight_quantity`` as what was carried in."""
    out: dict[Key, Quantities] = {}
    for row in rows:
        key = (f"{row.exchange}:{row.tradingsymbol}", row.product)
        before = out.get(key, Quantities(0, 0))
        out[key] = Quantities(before.net + row.quantity, before.carried + row.overnight_quantity)
    return out


def broker_holdings(rows: Iterable[KiteHolding]) -> dict[str, int]:
    """What the demat account holds, by trading symbol: ``quantity + t1_quantity`` of each row."""
    held: dict[str, int] = {}
    for row in rows:
        key = _holding_key(f"{row.exchange}:{row.tradingsymbol}")
        held[key] = held.get(key, 0) + row.quantity + row.t1_quantity
    return held


def position_mismatches(
    ours: Mapping[Key, Quantities],
    theirs: Mapping[Key, Quantities],
    held: Mapping[str, int] | None = None,
) -> list[str]:
    """Every difference between the journal's positions and the broker's portfolio, as text.

    Args:
        ours: the journal's positions (:func:`journal_positions`).
        theirs: the broker's positions (:func:`broker_positions`).
        held: the broker's holdings (:func:`broker_holdings`); None when not read (nothing
            delivery was carried in), taken as empty.

    Returns:
        One line per difference, sorted: ``"NSE:INFY MIS: journal 10, broker 0"``; for CNC,
        ``"NSE:INFY CNC today: journal 5, broker 3"`` and ``"NSE:INFY CNC carried in: journal 10,
        broker holds 4"``.
    """
    out: list[str] = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key, Quantities(0)), theirs.get(key, Quantities(0))
        if key[1] != DELIVERY:
            if a.net != b.net:
                out.append(f"{key[0]} {key[1]}: journal {a.net}, broker {b.net}")
        elif a.today != b.today:
            out.append(f"{key[0]} {DELIVERY} today: journal {a.today}, broker {b.today}")
    carried: dict[str, tuple[list[str], int]] = {}
    for key, qty in sorted(ours.items()):
        if key[1] == DELIVERY and qty.carried:
            names, total = carried.get(_holding_key(key[0]), ([], 0))
            carried[_holding_key(key[0])] = ([*names, key[0]], total + qty.carried)
    overnight: dict[str, int] = {}
    for key, qty in theirs.items():
        if key[1] == DELIVERY:
            overnight[_holding_key(key[0])] = overnight.get(_holding_key(key[0]), 0) + qty.carried
    for name, (symbols, need) in sorted(carried.items()):
        have = (held or {}).get(name, 0) + overnight.get(name, 0)
        if need > have:
            out.append(f"{'+'.join(symbols)} {DELIVERY} carried in: journal {need}, broker holds {have}")
    return sorted(out)


def _holding_key(symbol: str) -> str:
    # a demat holding is per security, not per exchange: NSE:INFY and BSE:INFY are the same stock
    exchange, _, tradingsymbol = symbol.partition(":")
    return tradingsymbol if exchange in _DEMAT_EXCHANGES else symbol


def broker_multipliers(rows: Iterable[KitePosition]) -> dict[str, float]:
    """The contract multiplier of each symbol the broker's positions show (FACTS.md 2.2)."""
    return {f"{row.exchange}:{row.tradingsymbol}": row.multiplier for row in rows}


def _valued(positions: Iterable[Position]) -> dict[str, set[float]]:
    """The multipliers the journal booked each symbol's positions of the day at."""
    valued: dict[str, set[float]] = {}
    for p in positions:
        if p.net_qty or p.buy_qty or p.sell_qty:
            valued.setdefault(p.symbol, set()).add(p.multiplier)
    return valued


def multiplier_mismatches(
    configured: Callable[[str], float | None],
    positions: Iterable[Position],
    theirs: Mapping[str, float],
) -> list[str]:
    """Every contract the next order would be valued at another multiplier than the broker's, as
    text: reconciliation halts on these, since only a person can fix the config.

    The next order's multiplier is the config's (``Multipliers.of``), else that of a position the
    journal holds: so a config that differs from the broker is a mismatch, and so is a journal
    position booked at another multiplier when the config has none for its symbol. A position
    booked at an old multiplier while the config now agrees with the broker is not (the config was
    fixed, new orders are valued right): :func:`booked_at_other_multipliers` reports it.

    Args:
        configured: the config's multiplier of a symbol (``Multipliers.configured``); None: none.
        positions: the journal's positions of the day, each valued at its fills' multiplier.
        theirs: the broker's, by symbol (:func:`broker_multipliers`).

    Returns:
        One line per difference, sorted: ``"MCX:LEADMINI26DECFUT: market.multipliers gives 100,
        the broker 1000"``, ``"MCX:LEADMINI26DECFUT: the journal valued its fills at 100, the
        broker's is 1000, and market.multipliers has none for it"``.
    """
    valued = _valued(positions)
    out: list[str] = []
    for symbol, broker in sorted(theirs.items()):
        ours = configured(symbol)
        if ours is not None and ours != broker:
            out.append(f"{symbol}: market.multipliers gives {ours:g}, the broker {broker:g}")
        elif ours is None:
            for journaled in sorted(valued.get(symbol, set()) - {broker}):
                out.append(
                    f"{symbol}: the journal valued its fills at {journaled:g}, the broker's is "
                    f"{broker:g}, and market.multipliers has none for it"
                )
    return out


def day_bookings(positions: Iterable[Position], orders: Iterable[OrderRecord]) -> list[tuple[str, float]]:
    """``(symbol, multiplier)`` of every valuation the day's journal holds: each position's (its
    last fill's) and each filled order's (a position's earlier fills may differ from its last)."""
    out = [(symbol, m) for symbol, ms in _valued(positions).items() for m in ms]
    out += [(r.order.symbol, r.order.multiplier) for r in orders if r.filled_qty]
    return out


def booked_at_other_multipliers(
    configured: Callable[[str], float | None],
    bookings: Iterable[tuple[str, float]],
    theirs: Mapping[str, float],
) -> list[str]:
    """The day's positions the journal booked at another multiplier than the broker's, where the
    config now agrees with the broker (it was fixed after they traded), as text: reported, not
    halted on.

    The journal keeps what it booked (a replay and every restart value those fills the same), so
    the day's figures for such a contract stay off until the day ends: the fills booked before the
    fix have their values, charges and realized P&L scaled by old/new; the open quantity is marked
    at the old multiplier until its next fill, which is booked at the new one (and so realizes its
    close at the broker's). The broker's P&L is the right one. Orders from now on are valued at the
    config's, the broker's.

    Args:
        configured: the config's multiplier of a symbol (``Multipliers.configured``); None: none.
        bookings: the day's valuations (:func:`day_bookings`).
        theirs: the broker's, by symbol (:func:`broker_multipliers`).

    Returns:
        One line per (symbol, old multiplier), sorted.
    """
    by_symbol: dict[str, set[float]] = {}
    for symbol, multiplier in bookings:
        by_symbol.setdefault(symbol, set()).add(multiplier)
    out: list[str] = []
    for symbol, valued in sorted(by_symbol.items()):
        broker = theirs.get(symbol)
        if broker is None or configured(symbol) != broker:
            continue
        for old in sorted(valued - {broker}):
            out.append(
                f"{symbol}: the journal booked fills at multiplier {old:g} before market.multipliers "
                f"was fixed to the broker's {broker:g}: their values, charges and realized P&L are "
                f"{old / broker:.4g}x the broker's, and the open quantity is marked at {old:g} until "
                f"its next fill (booked at {broker:g}); the broker's P&L is right; new orders use {broker:g}"
            )
    return out
