"""How the engine says no: breaker denials, invalid, stale or unresolved intents, failed placements.

Each answers the intent (or the change) with a journaled result, so neither its caller nor a
restart finds it in flight; none of them places anything. They log under ``execsvc.engine``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from execsvc.breakers.rules import Denial
from execsvc.clock import iso_ist
from execsvc.errors import IntentValidationError
from execsvc.events import BreakerTripped, OrderIntent
from execsvc.executors.base import awaited_open, cancelled, order_result, rejected
from execsvc.journal_safe import salvage_identity

if TYPE_CHECKING:
    from execsvc.engine import Engine

log = logging.getLogger("execsvc.engine")


def denied(engine: Engine, denial: Denial, strategy_code: str, intent_id: str, now: int) -> None:
    """Log a breaker's denial of an intent or a change; journal it when it is a new trip."""
    if not denial.trips:
        log.info("intent %s refused: %s", intent_id, denial.message)
        return
    log.warning("breaker tripped on intent %s: %s", intent_id, denial.message)
    engine.emit(
        BreakerTripped(
            breaker=denial.breaker,
            message=denial.message,
            value=float(denial.value),
            limit=float(denial.limit),
            strategy_code=strategy_code,
            intent_id=intent_id,
            latched=denial.latch,
            ts_event=now,
        )
    )


def refuse_unresolved(engine: Engine, intent: OrderIntent, now: int) -> None:
    """A retry of an intent the last journaled day left without a result: never placed again.

    The service stopped while it was in flight (its order may be at the broker, or filled), and
    that day's records can no longer be settled here: the retry is refused, with the reason.
    """
    why = (
        f"intent_id {intent.intent_id} was journaled on the last journaled day without a result "
        "(in flight when the service stopped): not placed again; see that day's journal and the "
        "broker's order book"
    )
    log.warning("%s", why)
    engine.emit(rejected(intent, "unresolved", why, now, engine.executor.result_mode))


def placement_failed(engine: Engine, intent: OrderIntent, exc: Exception, now: int) -> None:
    """Answer an intent whose placement raised, leave nothing half-journaled, and halt.

    The executor may have journaled the order (and fills) before it failed: its working rest is
    cancelled and the order gets a result, so neither the caller nor a restart finds it in
    flight. Nothing went to a broker (a live order leaves in a task started last). An error
    here is a bug: trading halts until someone looks.
    """
    log.exception("placing intent %s failed", intent.intent_id)
    message = f"internal error while placing: {type(exc).__name__}: {exc}"
    mode = engine.executor.result_mode
    state = engine.state
    records = [r for r in state.orders.values() if r.order.intent_id == intent.intent_id]
    for record in records:  # an error path: the scan is fine
        was_working = record.working
        if was_working:
            engine.paper.book.discard(record.order.symbol, record.order.order_id)  # no longer rests
            engine.emit(cancelled(record, message, now))
        if was_working or intent.intent_id not in state.first_results:
            filled = record.filled_qty
            status = "FILLED" if filled == record.order.qty else "CANCELLED" if filled else "REJECTED"
            reason = "internal" if status == "REJECTED" else None
            engine.emit(order_result(record, status, now, mode, message=message, reject_reason=reason))
    if intent.intent_id not in state.first_results:
        engine.emit(rejected(intent, "internal", message, now, mode))
    engine.halt(f"internal error while placing intent {intent.intent_id}: {type(exc).__name__}", "execsvc")


def reject_invalid(
    engine: Engine, intent: OrderIntent, exc: IntentValidationError, now: int, key: str
) -> None:
    """Journal an invalid intent (what of it can be kept) and its REJECTED result, naming the fields.

    A repeat of an intent id already answered gets that answer instead (idempotency).
    """
    safe = salvage_identity(intent, engine.make_intent_id, now)
    if not isinstance(intent.intent_id, str) or not intent.intent_id:
        safe = msgspec.structs.replace(safe, intent_id=key)  # the id its caller waits under
    if engine.answer_first(safe.intent_id, key):
        return
    log.warning("intent %s invalid: %s", safe.intent_id, exc)
    engine.expect_answer(safe.intent_id, key)
    engine.emit(safe)
    result = rejected(safe, "validation", str(exc), now, engine.executor.result_mode)
    result = msgspec.structs.replace(result, raw={"errors": [e.to_dict() for e in exc.errors]})
    engine.emit(result)


def age_refusal(ts_init: int, now_ns: int, max_age_seconds: float | None) -> tuple[str, str] | None:
    """``(reason, message)`` when an intent stamped ``ts_init`` is too old to place at ``now_ns``.

    A ``ts_init`` as far *ahead* of the clock is refused too: it is a unit or clock error (say,
    microseconds where nanoseconds belong, or a producer's clock set wrong), and the intent's age
    cannot be known. ``max_age_seconds`` None: any age is placed. A pure function.
    """
    if max_age_seconds is None:
        return None
    age = (now_ns - ts_init) / 1e9
    if -max_age_seconds <= age <= max_age_seconds:  # the usual case: nothing to say
        return None
    limit = f"execution.max_intent_age_seconds={max_age_seconds:g}"
    if age > max_age_seconds:
        return "stale", (
            f"stale: ts_init={ts_init} ({_when(ts_init)}) is {age:,.3f} s old, over {limit}; not placed"
        )
    if -age > max_age_seconds:
        return "clock", (
            f"ts_init={ts_init} ({_when(ts_init)}) is {-age:,.3f} s ahead of the service's clock, "
            f"over {limit}: a clock or unit error (ts_init is nanoseconds since the epoch); not placed"
        )
    return None


def _when(ts_ns: int) -> str:
    try:
        return iso_ist(ts_ns)
    except (ValueError, OverflowError, OSError):  # past any calendar datetime can print
        return "no date"


def refuse_stale(engine: Engine, intent: OrderIntent, now: int) -> bool:
    """Answer a journaled intent REJECTED when it is too old (or too far ahead) to place.

    An after-market order is not too old before the open it waits for (``awaited_open``).
    """
    refusal = age_refusal(intent.ts_init, now, engine.config.execution.max_intent_age_seconds)
    if refusal is None:
        return False
    if refusal[0] == "stale" and now < (awaited_open(engine.calendar, intent) or 0):
        return False
    reason, message = refusal
    log.warning("intent %s refused: %s", intent.intent_id, message)
    engine.emit(rejected(intent, reason, message, now, engine.executor.result_mode))
    return True


def fresh_mis(intent: OrderIntent, reducing: bool) -> bool:
    """An MIS order that opens or adds to a position today: not an exit, not an AMO (its day is the
    next session's). The session square-off's cut-off applies to these (``Engine.mis_entry_cutoff``)."""
    return intent.product == "MIS" and intent.variety != "amo" and not reducing
