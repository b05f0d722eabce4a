"""Cancels and modifications of live orders at the broker, and how a lost answer is settled.

A request leaves only once its journal record is durable (write-ahead, as for a placement): the
record carries the change's submission key, which is what keeps a redelivery of it, to this
process or to a restart, from being sent again (``order_changes``).
A cancel or a modification whose answer is lost (5xx, a timeout after sending, an unreadable
answer) may have been carried out. The order's history at the broker decides: a cancel it shows
no sign of, of an order still working, is sent again at the order's next update (a cancel never
creates an order: a second one is refused harmlessly; ``cancel_retry``); a modification not shown
yet is remembered (``LiveExecutor.unsettled_modifies``) until the first update past the modify
statuses carries its terms (Kite's history shows the old terms through MODIFIED, FACTS.md 2.2).
A cancel asked for before the broker acknowledged the order (its placement in flight, or its
outcome unknown) is held (journaled as deferred) and sent once, when the placement's answer, an
order-book lookup, an update, the poller or reconciliation first shows the order working
(``carry_out_pending_cancel``); an order found final gets a result saying the cancel came too late.
A cancel refused while the order is being processed or for the broker's rate limit, one whose
answer was lost while the order still works, and one left unanswered by a crash, is sent again
(``cancel_retry``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from execsvc.errors import BrokerError, ValidationError
from execsvc.events import ModifyIntent
from execsvc.executors.base import modified
from execsvc.executors.kite.cancel_retry import cancel_refused, hold_lost
from execsvc.executors.kite.mapping import KiteOrder, broker_terms, modify_params
from execsvc.executors.kite.order_state import (
    CANCELLABLE,
    CLOSED,
    MODIFY_PENDING,
    outcome_unknown,
    quantity_proven,
    record_status,
)
from execsvc.state import OrderRecord

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor

log = logging.getLogger("execsvc.live")


def _acknowledged(live: LiveExecutor, record: OrderRecord, what: str) -> str | None:
    """The broker's id of the order; None (and an answer saying so) before the broker acknowledged it."""
    if record.broker_order_id is None:
        live.emit_result(
            record, record_status(record), f"cannot {what} yet: the broker has not acknowledged it"
        )
    return record.broker_order_id


async def cancel_at_broker(live: LiveExecutor, record: OrderRecord, reason: str) -> None:
    """Cancel at the broker; a lost answer is settled by the order's history: an order it shows
    still working, with no sign of the cancel, gets it again at its next update (``hold_lost``)."""
    assert live.client is not None
    await live.flush()  # write-ahead: the request, with its key, is on disk before the DELETE
    record = live.current(record)
    broker_id = _acknowledged(live, record, "cancel")
    if broker_id is None:
        return
    lost: BrokerError | None = None
    try:
        await live.client.cancel_order(record.order.variety, broker_id)
    except BrokerError as exc:
        record = live.current(record)
        if not outcome_unknown(exc):
            await cancel_refused(live, record, broker_id, exc)  # held again if the order is busy
            return
        lost = exc  # the broker may have cancelled it: its order says
    try:
        history = await live.client.order_history(broker_id)
    except BrokerError as lookup:
        record = live.current(record)
        if lost is not None:  # nothing shows the cancel arrived: held (an update showing it sends nothing)
            live.emit_result(
                record, record_status(record), hold_lost(live, record, lost, f"unreadable ({lookup})")
            )
        return  # cancelled: the WebSocket update or the next poll will tell
    last = history[-1] if history else None
    if last is not None:
        # applied before a lost cancel is held: this lookup is no new state to send it again on
        await live.apply_order(last)
    record = live.current(record)
    if lost is None or not record.working:
        return
    shown = last.status if last is not None else "not shown in its history"
    if any(entry.status == "CANCEL PENDING" for entry in history):  # it reached the broker
        message = f"cancel outcome unknown ({lost}); the broker's order is {shown}: its updates will tell"
        live.emit_result(record, record_status(record), message)
        return
    live.emit_result(record, record_status(record), hold_lost(live, record, lost, shown))


def carry_out_pending_cancel(live: LiveExecutor, record: OrderRecord, status: str | None) -> str | None:
    """Send the cancel held for an order the broker had not acknowledged, now that it knows it.

    Sent once: the cancel is journaled again, no longer deferred (the write-ahead of its DELETE),
    before it leaves, so a later update does not send it again (a restart may, if no answer was
    journaled: ``cancel_retry``). One held again (``CancelIntent.attempt``: refused while the order
    was being processed or for the rate limit, or its answer lost) waits for a status in
    ``CANCELLABLE``.

    Args:
        status: the order's status at the broker (None: not read; the cancel is sent).

    Returns:
        None, or (the order is final at the broker) what the order's next result says of the cancel.
    """
    pending = record.pending_cancel
    if pending is None or not record.working:
        return None
    if status in CLOSED:
        if pending.attempt:
            return f"the cancel held to be sent again came too late: the order is {status}"
        return f"the cancel asked for before the broker acknowledged the order came too late: it is {status}"
    if pending.attempt and status not in CANCELLABLE:
        return None  # held again (``cancel_retry``): sent once the order settles
    log.warning(
        "order %s, at the broker as %s (%s): sending its pending cancel",
        record.order.order_id,
        record.broker_order_id,
        status or "not read",
    )
    live.emit(msgspec.structs.replace(pending, order_id=record.order.order_id, deferred=False, refused=""))
    live.spawn(cancel_at_broker(live, record, pending.reason))
    return None


async def pending_cancel_on_answer(live: LiveExecutor, record: OrderRecord, broker_id: str) -> None:
    """The placement's answer came for an order with a cancel held: the broker's order decides.

    Its last state is applied (``carry_out_pending_cancel`` sends the cancel, or says it came too
    late); an order that cannot be read is cancelled all the same: the trader asked for that.
    """
    assert live.client is not None
    try:
        history = await live.client.order_history(broker_id)
    except BrokerError as exc:
        log.warning("order %s could not be read (%s): sending its pending cancel", broker_id, exc)
        history = []
    record = live.current(record)
    if history:
        await live.apply_order(history[-1])
    else:
        carry_out_pending_cancel(live, record, None)


def take_proven_quantity(live: LiveExecutor, record: OrderRecord, order: KiteOrder) -> None:
    """Journal the terms of a modification the broker took whose answer is not journaled yet (in
    flight, lost, or made on Kite web), once its quantity is proven (``quantity_proven``): first,
    as reconciliation does, so fills and working quantities agree."""
    if not quantity_proven(record, order):
        return
    terms = broker_terms(record.order, order, live.now_ns())
    if terms is not None:
        log.warning(
            "order %s: the broker shows quantity %d (%s), the journal %d: its terms are journaled",
            order.order_id,
            order.quantity,
            order.status,
            record.order.qty,
        )
        live.emit(terms)


async def modify_at_broker(live: LiveExecutor, record: OrderRecord, change: ModifyIntent) -> None:
    """Change an order at the broker and journal the change it took."""
    assert live.client is not None
    await live.flush()  # write-ahead: the request, with its key, is on disk before the PUT
    record = live.current(record)
    broker_id = _acknowledged(live, record, "modify")
    if broker_id is None:
        return
    old = record.order
    try:
        params = modify_params(
            old.variety,
            broker_id,
            quantity=change.qty,
            price=change.price,
            order_type=change.order_type,
            trigger_price=change.trigger_price,
            # Kite refuses a MARKET or SL-M order without market protection, and an order that
            # becomes one by a modification has none from its placement (FACTS.md 5.3)
            market_protection=(
                live.config.market_protection if change.order_type in ("MARKET", "SL-M") else None
            ),
        )
        await live.client.modify_order(old.variety, broker_id, params)
    except BrokerError as exc:
        record = live.current(record)
        if outcome_unknown(exc):
            await _modify_unknown(live, record, broker_id, exc)
            return
        live.emit_result(record, record_status(record), f"modify refused: {exc}")
        return
    except ValidationError as exc:
        live.emit_result(record, record_status(record), f"modify refused: {exc}")
        return
    record = live.current(record)
    # the broker took it; should we stop before this record is durable, the next start's
    # reconciliation takes the broker's terms (``broker_terms``). The terms it left alone are
    # the order's as they are now: another change may have been journaled while we waited. An
    # earlier modification whose answer was lost stays unsettled: the broker may apply it yet.
    if record.working:
        live.emit(modified(record.order, change, live.now_ns()))
    live.emit_result(record, record_status(record), "modified")


async def _modify_unknown(live: LiveExecutor, record: OrderRecord, broker_id: str, exc: BrokerError) -> None:
    """A modification whose answer was lost may have been taken: the broker's order says which.

    Its terms are journaled when they differ from ours (as reconciliation does), unless the
    broker is still validating a modification; then that state is applied like any update.
    """
    assert live.client is not None
    try:
        history = await live.client.order_history(broker_id)
    except BrokerError as lookup:
        record = live.current(record)
        live.unsettled_modifies.add(record.order.order_id)
        live.emit_result(
            record,
            record_status(record),
            f"modify outcome unknown ({exc}); the order could not be read ({lookup}): its "
            "updates or the next start's reconciliation will tell",
        )
        return
    record = live.current(record)
    last = history[-1] if history else None
    if record.working:  # even terms that differ may be another change's: the lost one may come yet
        live.unsettled_modifies.add(record.order.order_id)
    if last is None:
        taken = "the broker's order does not show it (yet): its updates will tell"
    elif last.status in MODIFY_PENDING:
        taken = f"the broker's order is {last.status}: its updates will tell"
    elif settle_modify(live, record, last):
        taken = "the broker's order shows it: its terms are journaled"
    else:
        taken = "the broker's order does not show it (yet): its updates will tell"
    live.emit_result(record, record_status(record), f"modify outcome unknown ({exc}); {taken}")
    if last is not None:
        await live.apply_order(last)


def settle_modify(live: LiveExecutor, record: OrderRecord, order: KiteOrder) -> bool:
    """An order with a modification whose answer was lost: each update past the modify statuses
    whose terms differ from ours is journaled (as reconciliation does), until the order closes.

    Equal terms may come before the broker took it, and differing ones may be another change's,
    so the order stays unsettled while it works.

    Returns:
        Whether terms were journaled.
    """
    terms = broker_terms(record.order, order, live.now_ns()) if record.working else None
    if terms is not None:
        log.warning(
            "order %s: the broker shows other terms than the journal while a modification's answer "
            "is lost: journaled",
            order.order_id,
        )
        live.emit(terms)
    if order.status in CLOSED or not record.working:
        live.unsettled_modifies.discard(record.order.order_id)
    return terms is not None
