"""Changes to working orders: cancels and modifications, as the engine handles them.

Both are journaled first (the request), then checked against the order's state: an unknown order
gets a REJECTED answer; a finished order, a halt (for modifications: a halt lets only cancels pass),
a bad new term or the breakers (``rules.check_modify``: a change may not do what a new order could
not) gets the order's current result back with the reason, and the order is untouched.
Otherwise the executor carries the change out and the answer is the order's next result. A live
order the broker has not acknowledged yet (its placement in flight, or its outcome unknown) has
no broker id to change: a cancel of it is held and answered now (``handle_cancel``), a
modification refused with a reason that says to try again (``handle_modify``).
A change is carried out once per submission key: a redelivery is answered, not done again. The
key is journaled with the change (``CancelIntent.key``, ``ModifyIntent.key``), so this holds across
restarts, and a carried after-market order takes its changes' keys into the next day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from execsvc.breakers.rules import check_modify, reference_price
from execsvc.clock import iso_ist
from execsvc.events import CancelIntent, ExecutionResult, ModifyIntent
from execsvc.executors.base import modified, order_result
from execsvc.journal_safe import journal_safe_change
from execsvc.positions import is_reducing
from execsvc.refusals import denied
from execsvc.state import OrderRecord
from execsvc.validation import validate_modify

if TYPE_CHECKING:
    from execsvc.engine import Engine


def _unknown_order(engine: Engine, order_id: str, intent_id: str, strategy: str, now: int, key: str) -> None:
    # keyed apart from the intent it names: a refusal must not become that intent's answer (an
    # intent of an earlier day, repeated later, is answered with its own first result)
    result = ExecutionResult(
        intent_id=f"unknown-order:{intent_id or order_id}",
        strategy_code=strategy,
        status="REJECTED",
        symbol="",
        side="",
        qty=0,
        order_id=order_id or None,
        message=f"order_id={order_id!r}: unknown order",
        reject_reason="unknown_order",
        timestamp=iso_ist(now),
        ts_event=now,
        mode=engine.executor.result_mode,
    )
    engine.expect_answer(result.intent_id, key)
    engine.emit(result)


def _refuse(engine: Engine, record: OrderRecord, reason: str, key: str, after: int = -1) -> None:
    """Answer ``key`` with the order's current result and ``reason``, once ``after`` is durable too."""
    intent_id = record.order.intent_id
    latest = engine.state.latest_results.get(intent_id)
    seq = max(engine.answers.latest_seq.get(intent_id, -1), after)
    journaled = latest is not None
    if latest is None:  # a live order not answered yet: its acceptance, to this caller only
        latest = order_result(record, "PLACED", engine.clock.now_ns(), engine.executor.result_mode)
    engine.answers.answer_with(msgspec.structs.replace(latest, message=reason), key, seq, publish=journaled)


def _repeated(engine: Engine, record: OrderRecord | None, key: str) -> bool:
    """Whether the change ``key`` was handled already (NATS redelivers one whose ack was lost).

    A repeat is answered with the order's latest result and not carried out again: done again, it
    would undo any change made since (cut to 5, raised to 8, then the cut again). Keys are unique
    per call of ``cancel_order``/``modify_order`` and per message for remote producers (their
    ``Execsvc-Key`` or ``Nats-Msg-Id``); an empty key names nothing. A change of a known order is
    handled once its request is journaled with the key (:func:`_journaled`): the state's fold of
    it (``ServiceState.change_keys``) is what a restart, or the next day for a carried order, knows.
    """
    if not key or record is None or key not in engine.state.change_keys:
        return False
    _refuse(engine, record, f"a repeat of change {key!r}, already handled: not done again", key)
    return True


def _journaled(
    engine: Engine, safe: CancelIntent | ModifyIntent, record: OrderRecord | None, key: str
) -> int:
    """Journal the request; one naming a known order with its key (the key is then handled).

    Returns:
        The request's journal sequence number.
    """
    return engine.emit(msgspec.structs.replace(safe, key=key) if record is not None else safe)


def _pending(why: str) -> str:
    return (
        f"cancel pending: {why}; it is cancelled at the broker once found there working "
        "(its next results tell)"
    )


def handle_cancel(engine: Engine, cancel: CancelIntent, now: int, key: str) -> None:
    """Cancel a working order (allowed even while halted).

    A live order the broker has not acknowledged (its placement in flight, or its outcome unknown)
    has no broker id to cancel by (``Executor.cancel_waits``): the cancel is journaled as deferred
    (``CancelIntent.deferred``, so a restart keeps it) and answered at once with the order's result
    saying it is pending. The executor sends it once the broker shows the order working; an order
    found final, refused, or not found, gets its final result, which says why.

    An id that is not a string names no order; the request is journaled as it can be held
    (:func:`~execsvc.journal_safe.journal_safe_change`).
    """
    state = engine.state
    safe = journal_safe_change(cancel)
    order_id = cancel.order_id if isinstance(cancel.order_id, str) else ""
    intent_id = cancel.intent_id if isinstance(cancel.intent_id, str) else ""
    record = state.change_target(order_id, intent_id)
    if _repeated(engine, record, key):
        return
    why = engine.executor.cancel_waits(record) if record is not None and record.working else None
    seq = _journaled(engine, msgspec.structs.replace(safe, deferred=why is not None), record, key)
    if record is None:
        _unknown_order(engine, safe.order_id, safe.intent_id, safe.strategy_code, now, key)
        return
    if not record.working:
        status = state.latest_results[record.order.intent_id].status
        _refuse(engine, record, f"not cancellable: the order is {status}", key)
        return
    if why is not None:  # answered now: the order may take until ``kite.unknown_give_up_seconds`` to show
        _refuse(engine, record, _pending(why), key, after=seq)  # released once the held cancel is on disk
        return
    engine.expect_answer(record.order.intent_id, key)
    engine.executor.cancel(record.order.order_id, safe.reason, now)


def _not_yet(why: str) -> str:
    return (
        f"modify refused for now: {why}; nothing was changed or sent: modify it again once the "
        "broker has acknowledged the order (its next result says PLACED)"
    )


def handle_modify(engine: Engine, mod: ModifyIntent, now: int, key: str) -> None:
    """Change a working order's quantity, price, trigger or type.

    An order the broker has not acknowledged yet (``Executor.modify_waits``) is not changed: the
    refusal says why and to modify again once it is (PLACED). Held instead, the change would reach
    the broker seconds later than asked (an unknown outcome may take ``unknown_give_up_seconds``),
    on terms chosen for a market that has moved meanwhile, and after the order may have filled
    on its first terms: the trader decides again, on what the order's answer says.

    The request is journaled as it can be held and checked on the values it came with: a term of
    the wrong type is refused by name (:func:`~execsvc.validation.validate_modify`).
    """
    state = engine.state
    safe = journal_safe_change(mod)
    record = state.change_target(mod.order_id) if isinstance(mod.order_id, str) else None
    if _repeated(engine, record, key):
        return
    _journaled(engine, safe, record, key)
    if record is None:
        _unknown_order(engine, safe.order_id, "", "", now, key)
        return
    order = record.order
    refusal: str | None = None
    if not record.working:
        refusal = f"not modifiable: the order is {state.latest_results[order.intent_id].status}"
    elif state.breakers.halted_reason is not None:
        refusal = f"trading halted ({state.breakers.halted_reason}): only cancels pass"
    else:
        inst = engine.instruments.by_key(order.symbol)
        tick_size = inst.tick_size if inst is not None else engine.config.market.default_tick_size
        # an iceberg's total is no one exchange order: its legs are, each the new total over them
        legs = state.iceberg_legs.get(order.intent_id) if order.variety == "iceberg" else None
        limit = engine.freeze.limit_of(inst) if order.variety != "iceberg" or legs else None
        errors = validate_modify(
            order,
            record.filled_qty,
            qty=mod.qty,
            price=mod.price,
            trigger_price=mod.trigger_price,
            order_type=mod.order_type,
            tick_size=tick_size,
            lot_size=inst.lot_size if inst is not None else 1,
            freeze=(limit, inst) if limit is not None and inst is not None else None,
            iceberg_legs=legs,
        )
        if errors:
            refusal = "modify refused: " + "; ".join(str(e) for e in errors)
        elif (why := engine.executor.modify_waits(record)) is not None:
            refusal = _not_yet(why)
        else:
            refusal = _breakers_refuse(engine, record, mod, now)
    if refusal is not None:
        _refuse(engine, record, refusal, key)
        return
    engine.expect_answer(order.intent_id, key)
    engine.executor.modify(order.order_id, mod, now)


def _breakers_refuse(engine: Engine, record: OrderRecord, mod: ModifyIntent, now: int) -> str | None:
    """The breakers' word on a modification: None to let it through, else the refusal."""
    state = engine.state
    old = record.order
    change = modified(old, mod, now)
    remaining = change.qty - record.filled_qty
    position = state.position(old.strategy_code, old.symbol, old.product)
    net = position.net_qty if position else 0
    # every other working order on the same side counts: two exits of 10 against long 10, both made
    # MARKET, would open a short of 10 while latched
    others = state.working_qty(old.strategy_code, old.symbol, old.product, old.side) - record.remaining
    reducing = is_reducing(old.side, remaining, net, max(others, 0))
    last = engine.executor.last_price(old.symbol)
    denial = check_modify(
        strategy_code=old.strategy_code,
        side=old.side,
        old_qty=old.qty,
        new_qty=change.qty,
        filled_qty=record.filled_qty,
        widening=change.qty > old.qty
        or (change.order_type, change.price, change.trigger_price)
        != (old.order_type, old.price, old.trigger_price),
        reducing=reducing,
        old_ref_price=reference_price(old.side, old.order_type, old.price, old.trigger_price, last),
        new_ref_price=reference_price(old.side, change.order_type, change.price, change.trigger_price, last),
        view=state.breakers.view(old.strategy_code, now, state.symbol_net_qty(old.symbol)),
        limits=engine.limits,
        multiplier=old.multiplier,
    )
    if denial is None:
        return None
    denied(engine, denial, old.strategy_code, old.intent_id, now)
    return f"modify refused: {denial.message}"
