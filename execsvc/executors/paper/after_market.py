"""After-market orders (``variety: amo``) on the simulated exchange: queued until the open (so
is a future taken in the F&O pre-open, ``OrderAccepted.at_open``: no call auction is simulated).

Paper and dry-run hold an AMO until its instrument's first tick (the exchange takes its queue at
the open, never at the price the order was placed against), with the session calendar its first
tick in its exchange's normal session; ``PaperExecutor.waiting`` keeps them, by symbol, in the
order they came.

With the calendar a tick out of the session releases nothing. Kite sends ticks after the close
(and a feed resends its last ones on reconnecting), but the exchange matches nothing then: an
NRML future AMO whose instrument did not tick again before NFO's 15:30 close used to fill at a
15:35 tick, a position opened after the close. That also left the session's close unjournaled
in a run that went on (``session_closes`` had looked at what was held at the close, before the
fill) while a restart journaled it at its first input. Since nothing reaches an exchange after its
close, what is held there after it was held at it, and its close is journaled once, either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execsvc.events import ExecutionResult, OrderReleased

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor
    from execsvc.market.ticks import Tick
    from execsvc.state import OrderRecord

AMO_WAITS = "after-market order: goes to the exchange with its instrument's next tick"
PRE_OPEN_WAITS = (
    "taken in the F&O pre-open: meets the market at the open (the simulator runs no call auction)"
)


def hold_for_open(
    paper: PaperExecutor, record: OrderRecord, now_ns: int, raw: dict[str, Any] | None = None
) -> ExecutionResult:
    """Queue an order that waits for the open (``OrderRecord.waits_for_open``) and answer PLACED."""
    order = record.order
    paper.waiting.setdefault(order.symbol, {})[order.order_id] = None
    return paper.result(record, "PLACED", now_ns, PRE_OPEN_WAITS if order.at_open else AMO_WAITS, raw=raw)


def release_after_market(paper: PaperExecutor, tick: Tick, now_ns: int) -> None:
    """The instrument's first tick since after-market orders were placed on it: they go out,
    as an exchange takes its queued AMOs at the open (never at the price they were placed at).
    An MIS one met past the broker's auto square-off time waits on for the next session: the
    broker takes no fresh MIS order then (``auto_square_off``). With the session calendar, a tick
    outside the exchange's normal session (before its open, after its close, on a weekend or a
    holiday) releases none: the queue goes out at the next session's open."""
    symbol = tick.symbol
    if not paper.cutoffs.in_session(symbol, now_ns):
        return
    held: dict[str, None] = {}
    for order_id in paper.waiting.pop(symbol, ()):
        record = paper.state.orders.get(order_id)
        if record is None or not record.waits_for_open:
            continue
        order = record.order
        if order.product == "MIS" and now_ns >= paper.cutoffs.time_of(symbol, now_ns):
            held[order_id] = None
            continue
        paper.emit(OrderReleased(order_id=order_id, intent_id=order.intent_id, ts_event=now_ns))
        if order.order_type in ("SL", "SL-M"):  # at the exchange: from here a stop like any other
            paper.book.add_stop(order.symbol, order.side, order.trigger_price or 0.0, order_id)
            paper.result(record, "PLACED", now_ns, "at the exchange: waiting for the trigger")
        else:
            paper.work(record, tick, now_ns)
    if held:
        paper.waiting[symbol] = {**held, **paper.waiting.get(symbol, {})}
