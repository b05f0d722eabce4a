"""Start-up: settle what a crash left half-journaled, so every journaled intent gets an answer.

An intent's records (intent, order accepted, fill, result) are appended in one step, but they reach
the file one ``write`` at a time, and under ``journal.fsync: always`` one ``fdatasync`` at a time: a
kill -9 between two of them, or a power cut before a batch is synced, can leave an intent journaled
without its result, or a paper order accepted without its fill or result. Folded as it is, such an
intent stays "in flight" for ever: a caller that sends it again waits for an answer that never
comes, and a paper MARKET order stays working with no book that could fill it.

At start-up, after the fold, the service journals what settles them (decided here, from the folded
state alone):

- an intent with neither an order nor a result was never executed (a live order is written ahead,
  and synced, before it is sent): it is REJECTED with reason ``interrupted``;
- a paper or dry-run order without any result had its handling cut short: what it filled stands,
  its rest is cancelled, and its result says so (FILLED, PARTIAL or CANCELLED);
- a paper or dry-run order that filled in full but lost its FILLED result gets it.

Live orders are left to reconciliation with the broker, which knows what became of them; a live
intent whose order the broker has (written ahead, then lost with the tail) is adopted under its own
intent id there, and only the rest are rejected here, after reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterable

from execsvc.events import ExecutionResult, OrderCancelled, OrderIntent
from execsvc.executors.base import cancelled, order_result, rejected
from execsvc.state import ServiceState

INTERRUPTED = "interrupted"
_NOT_HANDLED = "the service stopped before this intent was handled: nothing was sent or filled"
_CUT_SHORT = "the service stopped while handling this order: what filled stands, the rest is cancelled"
_FILLED = "filled in full before the service stopped; its result was journaled at the restart"


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
    state: ServiceState, now_ns: int, mode: str
) -> list[OrderCancelled | ExecutionResult]:
    """The events that finish paper orders a crash cut short (see the module docstring)."""
    events: list[OrderCancelled | ExecutionResult] = []
    for record in state.orders.values():
        order = record.order
        done = record.filled_qty >= order.qty
        if order.intent_id not in state.first_results:
            # never acknowledged to anyone: it does not trade on after the restart
            if record.working:
                events.append(cancelled(record, _CUT_SHORT, now_ns))
            if done:
                events.append(order_result(record, "FILLED", now_ns, mode, message=_FILLED))
            else:
                status = "PARTIAL" if record.filled_qty else "CANCELLED"
                events.append(order_result(record, status, now_ns, mode, message=_CUT_SHORT))
        elif done and not record.working:
            latest = state.latest_results.get(order.intent_id)
            if latest is None or latest.status != "FILLED":
                events.append(order_result(record, "FILLED", now_ns, mode, message=_FILLED))
    return events
