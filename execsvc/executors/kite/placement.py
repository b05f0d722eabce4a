"""Sending a placement: the write-ahead, the POST, and what its answer (or its absence) means.

The order's ``OrderAccepted`` (and its intent) are durable before the POST leaves the process. An
answer is journaled as the broker's acknowledgement and the PLACED result (then a cancel asked for
while the POST was in flight, held until now, is sent: ``changes.pending_cancel_on_answer``; one
that came while the order waited for its rate-limit slot keeps it from being sent); a refusal
closes the order REJECTED; an answer that may hide an accepted order
(``order_state.outcome_unknown``) makes it UNKNOWN, resolved by its tag in the broker's order
book, never by sending again (``unknown``).
Dry-run stops short of the POST and works the order in the paper simulator, with the request that
would have gone in ``raw``. Past midnight the order may be a new day's carried record: it is looked
up again by its tag after every wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execsvc.errors import BrokerError, BrokerUnavailableError, RateLimitDeadlineError
from execsvc.events import OrderUnknown
from execsvc.executors.kite.changes import pending_cancel_on_answer
from execsvc.executors.kite.order_state import outcome_unknown
from execsvc.executors.kite.unknown import resolve_unknown
from execsvc.state import OrderRecord

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor


def dry_run_request(variety: str, params: dict[str, str]) -> dict[str, Any]:
    """The request a dry-run placement would have sent, for its result's ``raw``."""
    return {"method": "POST", "path": f"/orders/{variety}", "form": dict(params)}


async def send_placement(
    live: LiveExecutor, tag: str, variety: str, params: dict[str, str], not_after: float | None = None
) -> None:
    """Write ahead, send the order once, and journal what its answer means (see the module docstring).

    ``not_after`` (the limiter's clock): an order whose rate-limit slot would come later is not
    sent, but closed REJECTED ``stale`` (``execution.max_intent_age_seconds``).
    """
    await live.flush()  # write-ahead: OrderAccepted (and the intent) are on disk before the POST
    record = live.state.orders.get(tag)
    if record is None or not record.working:
        return  # the date line passed meanwhile and ended it (a DAY order expires with its day)
    if live.dry_run:
        try:
            await live.limiter.acquire("order", placement=True, not_after=not_after)
        except RateLimitDeadlineError as exc:
            _stale(live, live.current(record), exc)
            return
        except BrokerError as exc:  # the day's placements are used up: answered as live would be
            if (record := live.current(record)).working:  # else the date line ended it meanwhile
                _refused(live, record, exc)
            return
        record = live.state.orders.get(tag)
        if record is None or not record.working:
            return
        order = record.order
        refused = live.paper.cutoffs.refusal(
            order, live.now_ns(), reducing=order.reducing, net_qty=live.state.product_net_qty
        )
        if refused is not None:  # what the broker would answer, past its MIS square-off time
            live.close_order(record, "REJECTED", refused, "after_auto_square_off")
            return
        # its slot came after the exchange closed (taken at 15:29:59, sent at 15:30:00): Kite
        # refuses a regular order out of the session (an AMO waits for the open, ``take``)
        if not record.waits_for_open and (
            late := live.paper.cutoffs.session_refusal(order.symbol, live.now_ns())
        ):
            live.close_order(record, "REJECTED", late, "session")
            return
        request = dry_run_request(variety, params)
        live.paper.take(record, live.now_ns(), raw={"dry_run": True, "request": request})
        return
    assert live.client is not None
    try:
        broker_id = await live.client.place_order(
            variety, params, not_after=not_after, wanted=lambda: _wanted(live, tag)
        )
    except RateLimitDeadlineError as exc:
        _stale(live, live.current(record), exc)
        return
    except BrokerError as exc:
        record = live.current(record)
        if not outcome_unknown(exc):
            _refused(live, record, exc)
            return
        # a response we could not read may still mean the order was placed: unknown, not refused
        live.emit(
            OrderUnknown(
                order_id=tag, intent_id=record.order.intent_id, reason=str(exc), ts_event=live.now_ns()
            )
        )
        if _unanswered(live, record):
            live.emit_result(record, "UNKNOWN", f"outcome unknown ({exc}); looking the order up by its tag")
        await resolve_unknown(live, tag)
        return
    record = live.current(record)
    if broker_id is None:  # cancelled while it waited for its slot (or ended by the date line)
        if record.working:
            live.close_order(record, "CANCELLED", "cancelled before it was sent", "cancelled")
        return
    if record.broker_order_id is None:
        live._acknowledge(record, broker_id)
    held = record.pending_cancel is not None and record.working  # a cancel asked for meanwhile
    if _unanswered(live, record):  # an update may have overtaken this answer (it said FILLED already)
        note = "; a cancel is pending for it: sent now" if held else ""
        live.emit_result(record, "PLACED", "accepted by the broker" + note)
    if held:
        await pending_cancel_on_answer(live, record, broker_id)
    await live.flush()  # commits here when the writer is idle: the caller hears one hop sooner


def _wanted(live: LiveExecutor, tag: str) -> bool:
    """Whether an order waiting for its rate-limit slot is still to be sent: not when a cancel
    came meanwhile (sent now, it could fill before the cancel reaches it), nor when the date line
    ended it."""
    record = live.state.orders.get(tag)
    return record is not None and record.working and record.pending_cancel is None


def _unanswered(live: LiveExecutor, record: OrderRecord) -> bool:
    latest = live.state.latest_results.get(record.order.intent_id)
    return latest is None or latest.status == "UNKNOWN"


def _refused(live: LiveExecutor, record: OrderRecord, exc: BrokerError) -> None:
    if isinstance(exc, BrokerUnavailableError):  # it never left
        live.close_order(record, "REJECTED", f"not sent: {exc}", "broker:unreachable")
    else:
        reason = f"broker:{exc.error_type or exc.http_status or 'error'}"
        live.close_order(record, "REJECTED", str(exc), reason)


def _stale(live: LiveExecutor, record: OrderRecord, exc: RateLimitDeadlineError) -> None:
    if not record.working:
        return  # the date line ended it while it waited
    limit = f"execution.max_intent_age_seconds={live.max_intent_age_seconds:g}"
    live.close_order(record, "REJECTED", f"stale: not sent: {exc} ({limit})", "stale")
