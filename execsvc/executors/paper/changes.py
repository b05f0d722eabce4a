"""Changing a working paper order: its new terms are journaled, then it is worked again.

The simulated broker's side of ``ModifyIntent`` (paper and dry-run): an order waiting for the open
stays queued, an untriggered stop rests again at its new trigger, and anything else meets the last
tick at its new price (it may fill at once) or, with no tick yet, rests. A working MIS order past
the broker's auto square-off time is the broker's to cancel: it is cancelled, not worked again.
A working CNC SELL raised beyond the free holdings is refused as the broker's RMS refuses it
(``holdings.modify_refusal``): the order's current result says why, and it works on unchanged.
So is any change, with the session calendar, out of the exchange's normal session (after its
close, before its open): the exchange takes none then, and worked again at a marketable price the
order would fill at a tick no exchange matches (``cutoffs.session_refusal``). An after-market
order waiting for the open may still be changed, as at Zerodha.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execsvc.events import ExecutionResult, ModifyIntent
from execsvc.executors.base import modified
from execsvc.executors.paper.after_market import AMO_WAITS, PRE_OPEN_WAITS
from execsvc.executors.paper.auto_square_off import CANCELLED
from execsvc.executors.paper.holdings import modify_refusal

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor


def modify_working(
    paper: PaperExecutor, order_id: str, change: ModifyIntent, now_ns: int
) -> ExecutionResult | None:
    """Apply ``change`` to a working order and work it again; None when it is not working."""
    record = paper.state.orders.get(order_id)
    if record is None or not record.working:
        return None
    old = record.order
    if (
        old.product == "MIS"
        and not record.waits_for_open
        and now_ns >= paper.cutoffs.time_of(old.symbol, now_ns)
    ):
        return paper.cancel_working(record, now_ns, CANCELLED)
    new_qty = old.qty if change.qty is None else change.qty
    refused = None if record.waits_for_open else paper.cutoffs.session_refusal(old.symbol, now_ns)
    if refused is not None or (refused := modify_refusal(record, new_qty, paper.state)) is not None:
        status = "PARTIAL" if record.filled_qty else "PLACED"
        return paper.result(record, status, now_ns, f"modify refused: {refused}")
    paper.book.discard(old.symbol, order_id)
    paper.emit(modified(old, change, now_ns))
    order = record.order
    if record.waits_for_open:  # still queued for the open (``waiting`` keeps it)
        waits = PRE_OPEN_WAITS if order.at_open else AMO_WAITS
        return paper.result(record, "PLACED", now_ns, f"modified; {waits}")
    status = "PARTIAL" if record.filled_qty else "PLACED"
    if order.order_type in ("SL", "SL-M") and not record.triggered:
        paper.book.add_stop(order.symbol, order.side, order.trigger_price or 0.0, order_id)
        return paper.result(record, status, now_ns, "modified")
    tick = paper.market.get(order.symbol)
    if tick is None:
        if order.price is not None:
            paper.book.add_limit(order.symbol, order.side, order.price, order_id)
        return paper.result(record, status, now_ns, "modified")
    return paper.work(record, tick, now_ns)
