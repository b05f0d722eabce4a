"""A cancel that did not reach the order: refused while the order was being processed, or left
unanswered by a crash. Both are sent again, a bounded number of times; the journal tells each step.

Kite refuses to cancel an order in one of its interim states (``BEING_PROCESSED``: being placed,
validated or modified; FACTS.md 2.3), typically with "Order cannot be cancelled as it is being
processed". The trader's intent is unchanged and the state lasts moments, so the cancel is held
again (journaled as deferred, ``CancelIntent.refused`` saying why, ``attempt`` counting its sends)
and sent again by ``changes.carry_out_pending_cancel`` when an update or a poll next shows the order
settled (``CANCELLABLE``): at most ``CANCEL_SENDS`` sends in all, one per update, never in a loop.
This holds for every cancel, held or not: the caller of an ordinary cancel is answered at once that
the cancel did not happen yet and is sent again (a PLACED result saying so), and the order's next
result (CANCELLED, or a refusal after the last send) tells the end.

A cancel journaled as sent (the write-ahead of its DELETE, ``OrderRecord.cancel_sent``) whose
refusal was never journaled may not have left the process: at start-up reconciliation an order the
broker still shows working, and not CANCEL PENDING, gets it again, once per restart
(:func:`hold_unanswered`). A cancel is idempotent at the broker (a second one of a cancelled or
completed order is refused, and never creates an order), so sending one twice risks nothing that
"never twice", which is about placements, guards against.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from execsvc.errors import BrokerError
from execsvc.events import CancelIntent
from execsvc.executors.kite.order_state import BEING_PROCESSED, CLOSED, record_status
from execsvc.state import OrderRecord

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor

log = logging.getLogger("execsvc.live")

CANCEL_SENDS = 3
"""Sends of one cancel the broker refuses while the order is being processed, before it is given up
(a restart's send counts too): an order stuck in an interim state longer than a few polls needs a
person, not more requests out of the rate limit."""


def being_processed(exc: BrokerError, status: str | None) -> bool:
    """Whether a cancel's refusal is for the order being processed, so that it may be sent again.

    Args:
        exc: the broker's refusal.
        status: the order's status at the broker just after (None: it could not be read).
    """
    if status in CLOSED:
        return False
    return status in BEING_PROCESSED or "being processed" in str(exc).lower()


async def cancel_refused(live: LiveExecutor, record: OrderRecord, broker_id: str, exc: BrokerError) -> None:
    """The broker refused a cancel: held again while the order is being processed, else reported.

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
    sends = sent.attempt + 1
    again = busy and sends < CANCEL_SENDS
    # journaled either way: held again, or given up (a restart does not send a refused cancel)
    live.emit(
        msgspec.structs.replace(
            sent, order_id=record.order.order_id, deferred=again, attempt=sends if again else sent.attempt,
            refused=str(exc) or type(exc).__name__,
        )
    )  # fmt: skip
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
    note = f"; refused on each of its {sends} sends: the order still works, cancel it again" if busy else ""
    if busy:
        log.error("cancel of order %s given up after %d sends: %s", record.order.order_id, sends, exc)
    live.emit_result(record, record_status(record), f"cancel refused: {exc}{note}")


def hold_unanswered(
    live: LiveExecutor, record: OrderRecord, status: str, before: CancelIntent | None
) -> bool:
    """At start-up: hold again the cancel journaled as sent whose DELETE may never have left.

    ``before`` is the record's ``cancel_sent`` as the journal left it (read before the broker's
    state was applied: applying it may send a held cancel, which is then this start's own). The
    order still working at the broker, and not CANCEL PENDING, gets it again: held (journaled as
    deferred, one more send counted), then sent by the caller's ``carry_out_pending_cancel`` when
    ``status`` shows it settled, else by the next update that does.

    Returns:
        Whether the cancel was held again.
    """
    if before is None or record.cancel_sent is not before or not record.working:
        return False
    if status in CLOSED or status == "CANCEL PENDING":
        return False  # it reached the broker (or the order ended): nothing to send
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
