"""Start-up: settle what a crash left half-journaled, so every journaled intent gets an answer.

An intent's records (intent, order accepted, fill, result) are appended in one step, but they reach
the file one ``write`` at a time, and under ``journal.fsync: always`` one ``fdatasync`` at a time: a
kill -9 between two of them, or a power cut before a batch is synced, can leave an intent journaled
without its result, or a paper order changed (accepted, filled, triggered, modified, cancelled)
without the result that goes with the change. Folded as it is, such an intent stays "in flight" for
ever: a caller that sends it again waits for an answer that never comes, and a paper MARKET order
stays working with no book that could fill it.

Whether a change lost its result is read from journal order: an order whose last change comes after
its intent's last result (or that has no result at all) was cut short. At start-up, after the fold,
the service journals what settles it (decided here, from the fold alone):

- an intent with neither an order nor a result was never executed (a live order is written ahead,
  and synced, before it is sent): it is REJECTED with reason ``interrupted``;
- a paper order cut short that was never acknowledged does not trade on: what it filled stands,
  the rest is cancelled, and its result says so; one that was acknowledged keeps resting if it can
  (LIMIT, SL) and gets the result it lost, else (MARKET, a triggered SL-M) its rest is cancelled;
  an order that ended (filled, cancelled) gets its final result.

Only paper orders are settled here, and only in paper mode: a live order (its id is a tag) is left
to reconciliation with the broker, which knows what became of it, and dry-run, which cannot ask the
broker, settles no orders at all (its journal may hold live ones). A live intent whose order the
broker has (written ahead, then lost with the tail) is adopted under its own intent id there; only
the rest are rejected, after reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from execsvc.events import ExecutionResult, OrderCancelled, OrderIntent
from execsvc.executors.base import cancelled, order_result, rejected
from execsvc.executors.kite.mapping import TAG_PREFIX
from execsvc.state import OrderRecord, ServiceState

INTERRUPTED = "interrupted"
_NOT_HANDLED = "the service stopped before this intent was handled: nothing was sent or filled"
_CUT_SHORT = "the service stopped while handling this order: what filled stands, the rest is cancelled"
_CAUGHT_UP = "the service stopped before this result was journaled; it was journaled at the restart"


def unanswered(intents: Iterable[OrderIntent], state: ServiceState) -> list[OrderIntent]:
    """The journaled intents with neither an order nor a result, in journal order.

    Args:
        intents: every intent of the folded journal, in order.
        state: the folded state.
    """
    with_orders = {record.order.intent_id for record in state.orders.values()}
    return [
        intent
        for intent in intents
        if intent.intent_id not in state.first_results and intent.intent_id not in with_orders
    ]


def settle_intents(intents: Iterable[OrderIntent], now_ns: int, mode: str) -> list[ExecutionResult]:
    """REJECTED (``interrupted``) results for intents that were journaled and never handled."""
    return [rejected(intent, INTERRUPTED, _NOT_HANDLED, now_ns, mode) for intent in intents]


def settle_paper_orders(
    state: ServiceState,
    last_change: Mapping[str, int],
    last_result: Mapping[str, int],
    now_ns: int,
    mode: str,
) -> list[OrderCancelled | ExecutionResult]:
    """The events that settle paper orders a crash cut short (see the module docstring).

    Args:
        state: the folded state.
        last_change: journal seq of each order's last change, by order id.
        last_result: journal seq of each intent's last result, by intent id.
        now_ns: the time of the settling events.
        mode: the results' ``mode``.
    """
    events: list[OrderCancelled | ExecutionResult] = []
    for order_id, record in state.orders.items():
        intent_id = record.order.intent_id
        if order_id.startswith(TAG_PREFIX) or last_change.get(order_id, -1) <= last_result.get(intent_id, -1):
            continue  # a live order (reconciliation's), or nothing after its last result
        acknowledged = intent_id in state.first_results
        if record.working and (not acknowledged or not _can_rest(record)):
            events.append(cancelled(record, _CUT_SHORT, now_ns))
            events.append(order_result(record, _ended(record), now_ns, mode, message=_CUT_SHORT))
        elif record.working:
            status = "PARTIAL" if record.filled_qty else "PLACED"
            events.append(order_result(record, status, now_ns, mode, message=_CAUGHT_UP))
        else:
            events.append(order_result(record, _ended(record), now_ns, mode, message=_CAUGHT_UP))
    return events


def _can_rest(record: OrderRecord) -> bool:
    """Whether the paper book takes the order back at a restart (see ``PaperExecutor.restore``)."""
    order = record.order
    if record.waits_for_open:  # an AMO (any type) or a pre-open future waiting for the open rests as it was
        return True
    if order.validity == "IOC":
        return False
    return order.order_type in ("LIMIT", "SL") or (order.order_type == "SL-M" and not record.triggered)


def _ended(record: OrderRecord) -> str:
    if record.filled_qty >= record.order.qty:
        return "FILLED"
    return "PARTIAL" if record.filled_qty else "CANCELLED"
