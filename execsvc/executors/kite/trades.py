"""Which of the broker's trades of an order to book: a pure decision, tested on its own.

The broker's trades are the truth about fills, but a broker view can be wrong for a while (a row
repeated with another quantity, a price that is not a price, more trades than the order could
have): each trade id is booked once, a trade that cannot be booked is reported, and nothing is
booked beyond the order's quantity as the broker states it.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable
from typing import NamedTuple

from execsvc.executors.kite.models import KiteTrade, trade_problem


class FillPlan(NamedTuple):
    """What to book of an order's trades, and what to report about the rest.

    Attributes:
        book: ``(trade_id, qty, price)`` to book, in the broker's order.
        problems: ``(logging level, message)`` for every trade (or part of one) not booked.
    """

    book: list[tuple[str, int, float]]
    problems: list[tuple[int, str]]


def plan_fills(
    order_id: str,
    trades: Iterable[KiteTrade],
    booked: Container[str],
    booked_qty: int,
    quantity: int,
) -> FillPlan:
    """Which of the broker's trades of ``order_id`` to book: each trade id once, never beyond ``quantity``.

    Args:
        order_id: the broker's order id; trades of other orders are ignored.
        trades: the broker's trades (``order_trades`` or the day's ``trades``), in its order.
        booked: the trade ids already booked for this order.
        booked_qty: the quantity already booked.
        quantity: the order's quantity: what is booked never goes beyond it.

    Returns:
        The plan. A trade id seen twice keeps its first row (a WARNING when the quantities
        differ); a trade that cannot be booked (``models.trade_problem``) is an ERROR; so is the part
        of a trade beyond the order's quantity, which is not booked (a trade partly beyond it is
        booked up to the quantity).
    """
    book: list[tuple[str, int, float]] = []
    problems: list[tuple[int, str]] = []
    first_qty: dict[str, int] = {}
    room = quantity - booked_qty
    for trade in trades:
        if trade.order_id != order_id:
            continue
        tid = trade.trade_id
        if tid in first_qty:
            if first_qty[tid] != trade.quantity:
                problems.append(
                    (
                        logging.WARNING,
                        f"order {order_id}: trade_id={tid!r} appears twice, with quantity={first_qty[tid]} "
                        f"and quantity={trade.quantity}; the first is kept",
                    )
                )
            continue
        first_qty[tid] = trade.quantity
        if tid in booked:
            continue
        problem = trade_problem(trade)
        if problem is not None:
            problems.append((logging.ERROR, f"order {order_id}: trade_id={tid!r}: {problem}; not booked"))
            continue
        take = min(trade.quantity, max(room, 0))
        if take < trade.quantity:
            problems.append(
                (
                    logging.ERROR,
                    f"order {order_id}: trade_id={tid!r}: quantity={trade.quantity - take} of its "
                    f"{trade.quantity} not booked: it goes beyond the order's quantity {quantity}",
                )
            )
        if take > 0:
            book.append((tid, take, trade.average_price))
            room -= take
    return FillPlan(book, problems)
