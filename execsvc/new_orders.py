"""New orders: how the engine takes an intent from idempotency to the executor.

A repeat of a journaled intent is answered with its first result (``Engine.answer_first``);
anything else is validated (an invalid intent is answered REJECTED and consumes its id), journaled,
then checked for what the last journaled day left unresolved, for age, against the breakers and
against the session calendar; what passes is placed with a fresh order id. Each refusal is a
journaled result (``refusals``), never an exception, so neither the caller nor a restart finds the
intent in flight. It logs under ``execsvc.engine``, as the engine did.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from execsvc.breakers.rules import check_order, reference_price
from execsvc.calendar import FO_EXCHANGES
from execsvc.errors import IntentValidationError
from execsvc.events import OrderIntent
from execsvc.executors.base import placement_deadline, rejected
from execsvc.positions import is_reducing
from execsvc.refusals import (
    denied,
    fresh_mis,
    placement_failed,
    refuse_stale,
    refuse_unresolved,
    reject_invalid,
)
from execsvc.validation import validate_intent

if TYPE_CHECKING:
    from execsvc.engine import Engine

log = logging.getLogger("execsvc.engine")


def handle_intent(engine: Engine, intent: OrderIntent, now: int, key: str, square_off: bool = False) -> None:
    """Handle a new order: idempotency, validation, the breakers and the session, then the executor.

    Its answer is its first result, released once durable; every refusal is journaled as one
    (``refusals``). ``square_off`` (the engine's own, checked by the caller): a reducing order passes
    a halt, the throttles and the order-value cap; it is never stale.
    """
    state = engine.state
    if (
        isinstance(intent.intent_id, str)
        and intent.intent_id
        and engine.answer_first(intent.intent_id, key, intent)
    ):
        return
    try:
        intent = validate_intent(
            intent,
            now_ns=now,
            default_exchange=engine.config.execution.default_exchange,
            default_tick_size=engine.config.market.default_tick_size,
            lookup=engine.instruments.by_key,
            make_id=engine.make_intent_id,
            multiplier=engine.paper.multipliers.of,
            freeze=engine.freeze.limits,
        )
    except IntentValidationError as exc:
        reject_invalid(engine, intent, exc, now, key)
        return
    engine.expect_answer(intent.intent_id, key)
    engine.emit(intent)
    if intent.intent_id in engine.previous_day_unanswered:
        refuse_unresolved(engine, intent, now)
        return
    if not square_off and refuse_stale(engine, intent, now):  # its own: made now, never stale
        return
    symbol = intent.symbol
    position = state.position(intent.strategy_code, symbol, intent.product)
    reducing = is_reducing(
        intent.side,
        intent.qty,
        position.net_qty if position is not None else 0,
        state.working_qty(intent.strategy_code, symbol, intent.product, intent.side),
    )
    ref_price = reference_price(
        intent.side,
        intent.order_type,
        intent.price,
        intent.trigger_price,
        engine.executor.last_price(symbol),
    )
    view = state.breakers.view(intent.strategy_code, now, state.symbol_net_qty(symbol))
    limits = engine.limits
    if square_off and reducing:  # getting flat: a burst of closing orders, maybe no price yet
        view = msgspec.structs.replace(view, halted_reason=None)
        limits = msgspec.structs.replace(
            limits,
            max_orders_per_second=None,
            max_orders_per_second_per_strategy=None,
            max_order_value_rupees=None,
        )
    denial = check_order(
        strategy_code=intent.strategy_code,
        side=intent.side,
        qty=intent.qty,
        reducing=reducing,
        ref_price=ref_price,
        view=view,
        limits=limits,
        multiplier=engine.paper.multipliers.of(symbol) or 1.0,  # known: validation refuses an unknown
    )
    if denial is None and engine.calendar is not None:
        exchange = intent.exchange or "NSE"
        if exchange in FO_EXCHANGES:  # a future may enter the pre-open auction: only F&O looks it up
            allowed, why = engine.calendar.may_place(
                exchange,
                now,
                variety=intent.variety,
                instrument_type=engine.instruments.instrument_type(symbol),
                order_type=intent.order_type,
                validity=intent.validity,
                symbol=symbol,
                months=engine.auction_months,
            )
        else:
            allowed, why = engine.calendar.may_place(exchange, now, variety=intent.variety)
        if allowed and engine.mis_entry_cutoff is not None and fresh_mis(intent, reducing):
            late = engine.mis_entry_cutoff(exchange, now)
            allowed, why = late is None, late or why
        if not allowed:
            log.info("intent %s refused: %s", intent.intent_id, why)
            engine.emit(rejected(intent, "session", why, now, engine.executor.result_mode))
            return
    if denial is not None:
        denied(engine, denial, intent.strategy_code, intent.intent_id, now)
        engine.emit(
            rejected(intent, f"breaker:{denial.breaker}", denial.message, now, engine.executor.result_mode)
        )
        return
    order_id = state.next_order_id()
    max_age = engine.config.execution.max_intent_age_seconds
    deadline = placement_deadline(max_age, intent, engine.calendar, square_off=square_off)
    try:
        engine.executor.place(intent, order_id, reducing, now, not_after_ns=deadline)
    except Exception as exc:  # a bug, not a refusal: see refusals.placement_failed
        placement_failed(engine, intent, exc, now)
