"""An iceberg's legs as orders of their own under its tag: every row, and its trades, counts.

Kite's sample shows an iceberg as its current leg (``meta.iceberg``, FACTS.md 2.1, 5.2); whether
each leg keeps the first leg's order id is UNCONFIRMED. If each is an order of its own, every row
carrying the iceberg's tag is that iceberg (``order_state.record_for``), each row's trades are its
leg's, and each row's ``filled_quantity`` reads the whole order's (``models.whole_iceberg``): the
legs before it in full, and its own. So a row's trades cannot be skipped because what was booked
already reaches its filled quantity: that may be the trades of later legs, booked first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from execsvc.executors.kite.models import KiteOrder, KiteTrade
from execsvc.state import OrderRecord

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor


def leg_row_of_its_own(record: OrderRecord, order: KiteOrder) -> bool:
    """Whether ``order`` is a leg of the iceberg ``record`` under a broker order id other than the
    one the record was acknowledged by, with fills: its trades are looked at whatever was booked."""
    return (
        record.order.variety == "iceberg"
        and order.variety == "iceberg"
        and record.broker_order_id is not None
        and order.order_id != record.broker_order_id
        and order.filled_quantity > 0
    )


async def apply_other_legs(
    live: LiveExecutor,
    rows: Iterable[KiteOrder],
    current: KiteOrder,
    trades_by_order: Mapping[str, list[KiteTrade]],
) -> None:
    """Apply the rows under an iceberg's tag other than ``current`` (its other legs, where Kite
    lists each as an order of its own), each with its own trades, in the book's order: before
    ``current``, whose state (its status, its terms) is then the order's.

    Raises:
        JournalError: the journal refused a record (the caller's error handling applies).
    """
    for row in rows:
        if row is not current and row.variety == "iceberg":
            await live.apply_order(row, trades_by_order.get(row.order_id, []))
