"""A cancel that did not reach the order: refused while the order was being processed or for the
broker's rate limit, its answer lost, or left unanswered by a crash. Each is sent again, a bounded
number of times; the journal tells each step.

Kite refuses to cancel an order in one of its interim states (``BEING_PROCESSED``: being placed,
validated or modified; FACTS.md 2.3), typically with "Order cannot be cancelled as it is being
processed". The trader's intent is unchanged and the state lasts moments, so the cancel is held
again (journaled as deferred, ``CancelIntent.refused`` saying why, ``attempt`` counting its sends)
and sent again by ``changes.carry_out_pending_cancel`` when an update or a poll next shows the order
settled (``CANCELLABLE``): at most ``CANCEL_SENDS`` sends in all, one per update, never in a loop.
This holds for every cancel, held or not: the caller of an ordinary cancel is answered at once that
the cancel did not happen yet and is sent again (a PLACED result saying so), and the order's next
result (CANCELLED, or a refusal after the last send) tells the end.

A cancel refused with HTTP 429 (the broker's rate limit: the client has closed the limiter's order
gate for ``penalty_seconds``) is held the same way and sent again once the gate reopens
(:func:`send_when_reopened`, on the limiter's clock), or by an update or poll that comes first: its
DELETE then waits at the gate for its slot. Our own limiter never refuses a cancel: only placements
count toward the day's cap, and a cancel has no deadline, so it waits for its slot however long.

A cancel whose answer was lost (a 5xx, a timeout after sending, an unreadable answer) may never
have reached the broker: when the order's history then shows it still working with no sign of the
cancel (no CANCEL PENDING), it is held again (:func:`hold_lost`) and sent by the next update or poll
that shows the order OPEN or TRIGGER PENDING (never at once: the lookup that saw it is not a new
state). One that did reach the broker shows as CANCEL PENDING or CANCELLED there, which sends
nothing. The same ``CANCEL_SENDS`` bound holds.

A cancel journaled as sent (the write-ahead of its DELETE, ``OrderRecord.cancel_sent``) whose
refusal was never journaled may not have left the process: at start-up reconciliation an order the
broker still shows working, and not CANCEL PENDING, gets it again, once per restart and within
the same ``CANCEL_SENDS`` (:func:`hold_unanswered`). A cancel is idempotent at the broker (a second
one of a cancelled or completed order is refused, and never creates an order), so sending one twice
risks nothing that "never twice", which is about placements, guards against.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from execsvc.errors import BrokerError, BrokerRateLimitError
from execsvc.events import CancelIntent
from execsvc.executors.kite.order_state import BEING_PROCESSED, CLOSED, record_status
from execsvc.state import OrderRecord

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor

log = logging.getLogger("execsvc.live")

CANCEL_SENDS = 3
"""Sends of one cancel the broker refuses (the order being processed, its rate limit) or leaves
unanswered, before it is given up (a restart's send counts too): an order that still works after a
few polls needs a person, not more requests out of the rate limit."""


def being_processed(exc: BrokerError, status: str | None) -> bool:
    """Whether a cancel's refusal is for the order being processed, so that it may be sent again.

    Args:
        exc: the broker's refusal.
        status: the order's status at the broker just after (None: it could not be read).
    """
    if status in CLOSED:
        return False
    return status in BEING_PROCESSED or "being processed" in str(exc).lower()


def rate_limited(exc: BrokerError, status: str | None) -> bool:
    """Whether a cancel's refusal is the broker's rate limit (HTTP 429), so that it may be sent again
    once the limiter's gate reopens (``status`` as in :func:`being_processed`)."""
    return isinstance(exc, BrokerRateLimitError) and status not in CLOSED


async def cancel_refused(live: LiveExecutor, record: OrderRecord, broker_id: str, exc: BrokerError) -> None:
    """The broker refused a cancel: held again while the order is being processed or for the rate
    limit, else reported.

    The order's status is read first (one request): Kite's text alone may not say that the order
    is in an interim state. The result says what happened to the cancel: held again (it is sent
    once the order settles) or refused, with the broker's reason.
    """
    assert live.client is not None
    try:
        history = await live.client.order_history(broker_id)
        status = history[-1].status if history else None
    except BrokerError as lookup:
        log.warning("order %s could not be read after its cancel was refused: %s", broker_id, lookup)
        status = None
    record = live.current(record)
    sent = record.cancel_sent
    if sent is None or not record.working:
        live.emit_result(record, record_status(record), f"cancel refused: {exc}")
        return
    busy = being_processed(exc, status)
    limited = rate_limited(exc, status)
    sends = sent.attempt + 1
    again = (busy or limited) and sends < CANCEL_SENDS
    # journaled either way: held again, or given up (a restart does not send a refused cancel)
    live.emit(
        msgspec.structs.replace(
            sent, order_id=record.order.order_id, deferred=again, attempt=sends if again else sent.attempt,
            refused=str(exc) or type(exc).__name__,
        )
    )  # fmt: skip
    if again and limited:
        log.warning(
            "cancel of order %s (broker %s) refused for the broker's rate limit (send %d of %d): held "
            "until the rate limit allows", record.order.order_id, broker_id, sends, CANCEL_SENDS,
        )  # fmt: skip
        live.emit_result(
            record,
            record_status(record),
            f"cancel pending: the broker refused it for its rate limit ({exc}); it is sent again once "
            f"the rate limit allows (send {sends} of {CANCEL_SENDS})",
        )
        live.spawn(send_when_reopened(live, record.order.order_id))
        return
    if again:
        log.warning(
            "cancel of order %s (broker %s) refused while it is %s (send %d of %d): held until it settles",
            record.order.order_id, broker_id, status or "being processed", sends, CANCEL_SENDS,
        )  # fmt: skip
        live.emit_result(
            record,
            record_status(record),
            f"cancel pending: the broker refused it while the order is being processed ({exc}); it "
            f"is sent again once the order shows OPEN or TRIGGER PENDING (send {sends} of {CANCEL_SENDS})",
        )
        return
    retried = busy or limited
    note = (
        f"; refused on each of its {sends} sends: the order still works, cancel it again" if retried else ""
    )
    if retried:
        log.error("cancel of order %s given up after %d sends: %s", record.order.order_id, sends, exc)
    live.emit_result(record, record_status(record), f"cancel refused: {exc}{note}")


async def send_when_reopened(live: LiveExecutor, order_id: str) -> None:
    """Send a cancel held for the broker's rate limit once the limiter's order gate reopens.

    The order is read first and its state applied (``apply_order``), which sends the held cancel
    while the order works (``changes.carry_out_pending_cancel``) or answers that it came too late.
    An update or poll that came first has sent it already: nothing is done then.
    """
    assert live.client is not None
    await live.limiter.reopened("order")
    record = live.state.orders.get(order_id)
    if (
        record is None
        or record.pending_cancel is None
        or record.broker_order_id is None
        or not record.working
    ):
        return
    try:
        history = await live.client.order_history(record.broker_order_id)
    except BrokerError as exc:
        log.warning("order %s could not be read (%s): its held cancel goes with the next poll", order_id, exc)
        return
    if history:
        await live.apply_order(history[-1])


def hold_lost(live: LiveExecutor, record: OrderRecord, lost: BrokerError, shown: str) -> str:
    """A cancel whose answer was lost, of an order the broker shows working with no sign of the
    cancel (or could not show): held again, unless it was sent ``CANCEL_SENDS`` times already.

    Journaled as deferred (one more send counted), so that the next update or poll that shows the
    order ``CANCELLABLE`` sends it (``changes.carry_out_pending_cancel``), and a restart too.

    Args:
        lost: why the answer is unknown.
        shown: what the broker's order showed (its status, or why it could not be read).

    Returns:
        What the order's result says of the cancel.
    """
    sent = record.cancel_sent
    unknown = f"cancel outcome unknown ({lost}); the broker's order is {shown}"
    if sent is None or not record.working:
        return f"{unknown}: its updates will tell"
    sends = sent.attempt + 1
    if sends >= CANCEL_SENDS:
        log.error(
            "cancel of order %s still unanswered after %d sends: %s", record.order.order_id, sends, lost
        )
        return (
            f"{unknown}, with no answer to any of its {sends} sends: not sent again; its updates will "
            "tell, cancel it again if it still works"
        )
    log.warning(
        "cancel of order %s (broker %s): answer lost (%s) and the order is %s: held, sent again at "
        "its next update (send %d of %d)",
        record.order.order_id, record.broker_order_id, lost, shown, sends, CANCEL_SENDS,
    )  # fmt: skip
    live.emit(msgspec.structs.replace(sent, order_id=record.order.order_id, deferred=True, attempt=sends))
    return (
        f"{unknown}: cancel pending, sent again once an update shows the order OPEN or TRIGGER "
        f"PENDING (send {sends} of {CANCEL_SENDS})"
    )


def hold_unanswered(
    live: LiveExecutor, record: OrderRecord, status: str, before: CancelIntent | None
) -> bool:
    """At start-up: hold again the cancel journaled as sent whose DELETE may never have left.

    ``before`` is the record's ``cancel_sent`` as the journal left it (read before the broker's
    state was applied: applying it may send a held cancel, which is then this start's own). The
    order still working at the broker, and not CANCEL PENDING, gets it again: held (journaled as
    deferred, one more send counted), then sent by the caller's ``carry_out_pending_cancel`` when
    ``status`` shows it settled, else by the next update that does; unless it was sent
    ``CANCEL_SENDS`` times already (the last of them cut off, or given up by ``hold_lost``).

    Returns:
        Whether the cancel was held again.
    """
    if before is None or record.cancel_sent is not before or not record.working:
        return False
    if status in CLOSED or status == "CANCEL PENDING":
        return False  # it reached the broker (or the order ended): nothing to send
    if before.attempt + 1 >= CANCEL_SENDS:  # its last send (one given up as unanswered too): the bound holds
        log.error(
            "order %s (broker %s) is %s at the broker; its cancel was sent %d times with no answer: "
            "not sent again, cancel it again if it should not work",
            record.order.order_id, record.broker_order_id, status, before.attempt + 1,
        )  # fmt: skip
        return False
    log.warning(
        "order %s (broker %s) is %s at the broker with a cancel journaled as sent and no answer: "
        "sent again",
        record.order.order_id, record.broker_order_id, status,
    )  # fmt: skip
    live.emit(
        msgspec.structs.replace(
            before, order_id=record.order.order_id, deferred=True, attempt=before.attempt + 1
        )
    )
    return True
