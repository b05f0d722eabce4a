"""Position maths: pure functions on immutable positions.

A position is kept per (strategy, symbol, product), as Kite keeps MIS and CNC positions apart.
The average price is the average cost of the open quantity; a fill against the position realises
``(price - avg_price) * closed_qty * multiplier`` (sign-adjusted); a fill through zero opens the
rest at the fill price. Whatever the order of fills, once flat ``realized_gross == sell_value -
buy_value``. The multiplier is the contract's (1 but on MCX, CDS and BCD, where Kite's quantity is
in lots: ``execsvc.market.multipliers``); values (``buy_value``, ``sell_value``) include it, prices
and quantities do not, as in Kite's positions.

``open_charges`` is what opening the open quantity cost (its fills' charges, pro rata, carried
overnight with it): a fill that closes part of the position takes that part's share, so a closing
order is judged by its round trip (the loss streak), not by its own charges alone.
"""

from __future__ import annotations

import msgspec

PositionKey = tuple[str, str, str]
"""(strategy_code, symbol, product)."""


class Position(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """An open or closed position and its day's P&L, in rupees."""

    strategy_code: str
    symbol: str
    product: str = "MIS"
    net_qty: int = 0
    avg_price: float = 0.0
    realized_gross: float = 0.0
    charges: float = 0.0
    buy_qty: int = 0
    sell_qty: int = 0
    buy_value: float = 0.0
    sell_value: float = 0.0
    open_charges: float = 0.0  # the charges that opened the open quantity, not yet set against a close
    multiplier: float = 1.0  # the contract's, as journaled with its last fill

    @property
    def key(self) -> PositionKey:
        """(strategy_code, symbol, product)."""
        return (self.strategy_code, self.symbol, self.product)

    @property
    def realized_net(self) -> float:
        """Realized P&L less every charge paid on this position today."""
        return self.realized_gross - self.charges

    def unrealized(self, mark: float) -> float:
        """Mark-to-market P&L of the open quantity at ``mark``."""
        return (mark - self.avg_price) * self.net_qty * self.multiplier


def apply_fill(
    position: Position, side: str, qty: int, price: float, charges: float = 0.0, multiplier: float = 1.0
) -> tuple[Position, float]:
    """The position after a fill, and the gross P&L the fill realised.

    Args:
        position: before the fill.
        side: ``BUY`` or ``SELL``.
        qty: filled quantity (positive).
        price: fill price.
        charges: the fill's charges in rupees.
        multiplier: the contract's (the fill's): rupees per unit of quantity per rupee of price.

    Returns:
        ``(new_position, realized_gross_of_this_fill)``.
    """
    signed = qty if side == "BUY" else -qty
    net = position.net_qty
    avg = position.avg_price
    realized = 0.0
    if net == 0 or (net > 0) == (signed > 0):
        new_net = net + signed
        avg = (avg * abs(net) + price * qty) / abs(new_net)
        open_charges = position.open_charges + charges
    else:
        closed = min(qty, abs(net))
        realized = (price - avg) * closed * (1 if net > 0 else -1) * multiplier
        new_net = net + signed
        open_charges = position.open_charges * (abs(net) - closed) / abs(net)
        if new_net == 0:
            avg = 0.0
        elif (new_net > 0) != (net > 0):
            avg = price
            open_charges = charges * (qty - closed) / qty  # what of this fill opened the new side
    value = price * qty * multiplier
    # named only when it changes: an NSE position keeps the default object, which the encoder omits
    changed = {} if multiplier == position.multiplier else {"multiplier": multiplier}
    return (
        msgspec.structs.replace(
            position,
            net_qty=new_net,
            avg_price=avg,
            realized_gross=position.realized_gross + realized,
            charges=position.charges + charges,
            buy_qty=position.buy_qty + (qty if side == "BUY" else 0),
            sell_qty=position.sell_qty + (qty if side == "SELL" else 0),
            buy_value=position.buy_value + (value if side == "BUY" else 0.0),
            sell_value=position.sell_value + (value if side == "SELL" else 0.0),
            open_charges=open_charges,
            **changed,
        ),
        realized,
    )


def is_reducing(side: str, qty: int, net_qty: int, pending_same_side: int = 0) -> bool:
    """Whether an order only reduces an open position (never opens or flips one).

    Args:
        side: the order's side.
        qty: the order's quantity.
        net_qty: the open position it would act on.
        pending_same_side: quantity of working orders on the same side that would reduce it first.
    """
    if net_qty > 0 and side == "SELL":
        return qty + pending_same_side <= net_qty
    if net_qty < 0 and side == "BUY":
        return qty + pending_same_side <= -net_qty
    return False
