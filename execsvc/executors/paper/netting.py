"""The broker's auto square-off is the account's: one order per symbol, its charges shared out.

Pure functions (no state, no I/O) the simulated broker's square-off (``auto_square_off``) plans
with. Zerodha sees one account: it squares off each symbol's *net* MIS position with one MARKET
order (FACTS section 6), so strategies long 10 and short 10 cost nothing, and long 10 with short 4
cost one SELL 6: one brokerage, STT on 6, one fee. Every strategy's position is still closed in the
books, each at the one square-off price, so each strategy's profit or loss is its own; the
charges of the broker's order fall on the positions on the side it trades (the account's net
side), pro rata by their quantity. The positions on the other side are absorbed by them without
any order (an internal cross) and pay nothing.

Rounding: charges are in rupees to 4 decimals (``costs.fill_charges``). Each part (brokerage,
STT, exchange, SEBI, stamp, GST, the fee) is split in whole units of ₹0.0001 by the largest
remainder, ties to the earlier position; so the shares of every part, and of the total, add up
exactly to the order's, and the same positions in the same order always get the same shares.
"""

from __future__ import annotations

from collections.abc import Sequence

from execsvc.broker_events import BrokerSquareOff, SquareOffLeg
from execsvc.event_base import Charges
from execsvc.positions import Position

_UNITS = 10_000  # charges have 4 decimals: shared out in whole units of that
_PARTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst")
_IF_ANY = ("auto_square_off", "dp")  # parts named only when charged (``costs.rounded_charges``)
_NONE = Charges()


def net_order(net_qtys: Sequence[int]) -> tuple[str, int]:
    """The broker's one order that squares off positions of one symbol.

    Args:
        net_qtys: the positions' net quantities (positive long, negative short).

    Returns:
        ``(side, qty)`` of the order that makes the account flat; ``("", 0)`` when the positions
        net to flat and the broker places nothing.
    """
    net = sum(net_qtys)
    if net == 0:
        return "", 0
    return ("SELL" if net > 0 else "BUY"), abs(net)


def share_out(charges: Charges, weights: Sequence[int]) -> list[Charges]:
    """``charges`` split pro rata by ``weights``, each part in whole ₹0.0001 (see the module).

    Args:
        charges: one order's charges (each part a multiple of ₹0.0001, as the cost model gives).
        weights: positive quantities, one per share.

    Returns:
        One ``Charges`` per weight, in order; ``[charges]`` itself for a single weight. The fee
        and DP parts are named only in a share that carries some of them (as the cost model names
        the fee).

    Raises:
        ValueError: no weights, or one that is not positive.
    """
    if not weights or min(weights) <= 0:
        raise ValueError(f"weights={list(weights)!r}: at least one, each positive")
    if len(weights) == 1 or charges == _NONE:
        return [charges] * len(weights)
    whole = sum(weights)
    parts = {name: _split(_units(getattr(charges, name)), weights, whole) for name in _PARTS}
    # named only in a share that carries some (msgspec journals a default that is given)
    named_if_any = {name: _split(_units(getattr(charges, name)), weights, whole) for name in _IF_ANY}
    shares: list[Charges] = []
    for i in range(len(weights)):
        mine = {name: split[i] for name, split in parts.items()}
        extra = {name: split[i] for name, split in named_if_any.items() if split[i]}
        total = sum(mine.values()) + sum(extra.values())
        given = {name: units / _UNITS for name, units in (mine | extra).items()}
        shares.append(Charges(**given, total=total / _UNITS))
    return shares


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` whole units split pro rata by ``weights``: the largest remainders take the units
    the floors leave, ties to the earlier weight (as ``share_out`` splits each part).

    Raises:
        ValueError: no weights, or one that is not positive.
    """
    if not weights or min(weights) <= 0:
        raise ValueError(f"weights={list(weights)!r}: at least one, each positive")
    return _split(total, weights, sum(weights))


def plan(
    symbol: str,
    positions: Sequence[Position],
    price: float,
    charges: Charges,
    now_ns: int,
    last_price: float = 0.0,
) -> BrokerSquareOff:
    """The broker's square-off of ``symbol``: its one order and each position's share of its charges.

    Args:
        symbol: the instrument.
        positions: the account's open MIS positions in it (one per strategy), in booking order.
        price: the broker's order's fill price; the last price when the positions net to flat.
        charges: the broker's order's charges (ignored when the positions net to flat: no order).
        now_ns: the time of the square-off.
        last_price: the instrument's last price the broker's order traded against (its mark).

    Returns:
        The record to journal before the closing orders (``BrokerSquareOff``).
    """
    side, qty = net_order([p.net_qty for p in positions])
    if not qty:
        legs = [SquareOffLeg(strategy_code=p.strategy_code, net_qty=p.net_qty) for p in positions]
        return BrokerSquareOff(symbol=symbol, price=price, legs=legs, ts_event=now_ns, last_price=last_price)
    trading = [p for p in positions if (p.net_qty > 0) == (side == "SELL")]
    shares = share_out(charges, [abs(p.net_qty) for p in trading])
    by_strategy = {p.strategy_code: share for p, share in zip(trading, shares, strict=True)}
    legs = [
        SquareOffLeg(
            strategy_code=p.strategy_code,
            net_qty=p.net_qty,
            charges=by_strategy.get(p.strategy_code, Charges()),
        )
        for p in positions
    ]
    return BrokerSquareOff(
        symbol=symbol,
        price=price,
        side=side,
        qty=qty,
        charges=charges,
        legs=legs,
        ts_event=now_ns,
        last_price=last_price,
    )


def on_the_order(leg: SquareOffLeg, square_off: BrokerSquareOff) -> bool:
    """Whether ``leg``'s position is on the side the broker's order trades (it shares its charges)."""
    return square_off.qty > 0 and (leg.net_qty > 0) == (square_off.side == "SELL")


def _units(rupees: float) -> int:
    return round(rupees * _UNITS)


def _split(units: int, weights: Sequence[int], whole: int) -> list[int]:
    shares = [units * w // whole for w in weights]
    left = units - sum(shares)
    # the largest remainders take the units the floors left; ties go to the earlier share
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(units * weights[i] % whole), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares
