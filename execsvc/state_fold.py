"""What each journaled event does to the service's state: the fold's steps, one per event type.

:meth:`ServiceState.apply <execsvc.state.ServiceState.apply>` looks an event's step up in
:data:`APPLY` by its exact type and runs it; events with no step change nothing in the state. A
step changes only the state it is given, and reads nothing else (no clock, no journal), so folding
the day's journal at start-up rebuilds exactly what the running service had. The steps keep the
state's own indexes (working quantity per side, net quantity per symbol) in line with its orders
and positions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from execsvc.broker_events import AUTO_SQUARE_OFF_PREFIX, BROKER_PREFIXES, DELIVERY_PREFIX
from execsvc.cnc_day import DELIVERY as CNC
from execsvc.cnc_day import book as book_cnc_fill
from execsvc.events import (
    BreakersReset,
    BreakerTripped,
    BrokerSquareOff,
    CancelIntent,
    DayCloses,
    ExecutionResult,
    Fill,
    JournalOpened,
    LimitsChanged,
    ModifyIntent,
    OrderAccepted,
    OrderAcknowledged,
    OrderCancelled,
    OrderIntent,
    OrderModified,
    OrderReleased,
    OrdersCarried,
    OrderTriggered,
    OrderUnknown,
    PositionsCarried,
    SessionCloses,
    TradingHalted,
    TradingResumed,
)
from execsvc.order_record import OrderRecord
from execsvc.positions import Position, apply_fill

if TYPE_CHECKING:
    from execsvc.state import ServiceState


def _on_intent(state: ServiceState, event: OrderIntent) -> None:
    state.intents_seen += 1
    state.intent_ids.add(event.intent_id)
    if event.variety == "iceberg" and isinstance(event.metadata, dict):
        legs = event.metadata.get("iceberg_legs")
        if type(legs) is int:  # an intent journaled with bad legs was refused: it has no order
            state.iceberg_legs[event.intent_id] = legs


def _on_cancel_intent(state: ServiceState, event: CancelIntent) -> None:
    if event.key:
        target = state.change_target(event.order_id, event.intent_id)
        _change_handled(state, event.key, target)
        if target is not None:  # a deferred cancel is held; the next one (sent) replaces it
            target.pending_cancel = event if event.deferred else None
            target.cancel_sent = None if event.deferred or event.refused else event


def _on_modify_intent(state: ServiceState, event: ModifyIntent) -> None:
    if event.key:
        _change_handled(state, event.key, state.change_target(event.order_id))


def _change_handled(state: ServiceState, key: str, target: OrderRecord | None) -> None:
    state.change_keys[key] = target.order.order_id if target is not None else ""


def _on_acknowledged(state: ServiceState, event: OrderAcknowledged) -> None:
    acked = state.orders.get(event.order_id)
    if acked is not None:
        acked.broker_order_id = event.broker_order_id
        acked.unknown = False
        if event.reopened and not acked.working:
            acked.working = True
            order = acked.order
            key = (order.strategy_code, order.symbol, order.product, order.side)
            state._working_qty[key] = state._working_qty.get(key, 0) + order.qty - acked.filled_qty
    state.broker_ids[event.broker_order_id] = event.order_id


def _on_unknown(state: ServiceState, event: OrderUnknown) -> None:
    unknown = state.orders.get(event.order_id)
    if unknown is not None:
        unknown.unknown = True


def _on_released(state: ServiceState, event: OrderReleased) -> None:
    released = state.orders.get(event.order_id)
    if released is not None:
        released.released = True


def _on_triggered(state: ServiceState, event: OrderTriggered) -> None:
    triggered = state.orders.get(event.order_id)
    if triggered is not None:
        triggered.triggered = True
        # a stop triggers only at the exchange (and journals written before OrderReleased
        # existed marked an after-market order that went out with OrderTriggered)
        triggered.released = True
        _priced(state, triggered.order.symbol)


def _on_trip(state: ServiceState, event: BreakerTripped) -> None:
    key = event.breaker
    if event.breaker == "max_trades_per_strategy_per_day":
        key = f"{event.breaker}:{event.strategy_code}"
    state.breakers.on_trip(key, event.message, event.latched)


def _on_halted(state: ServiceState, event: TradingHalted) -> None:
    state.breakers.halted_reason = event.reason


def _on_resumed(state: ServiceState, event: TradingResumed) -> None:
    state.breakers.halted_reason = None


def _on_reset(state: ServiceState, event: BreakersReset) -> None:
    state.breakers.on_reset()


def _on_limits_changed(state: ServiceState, event: LimitsChanged) -> None:
    capital = event.limits.get("capital_rupees")
    if isinstance(capital, int | float) and not isinstance(capital, bool) and capital > 0:
        state.breakers.set_capital(float(capital))


def _on_journal_opened(state: ServiceState, event: JournalOpened) -> None:
    if event.capital is not None and event.day != state.day:
        # the day's capital as it opened (a reload before the date line carries over; a
        # restart measures drawdown against the same capital as the running service did)
        state.breakers.capital = event.capital
    state.new_day(event.day)
    state.result_mode = event.result_mode


def _on_carried(state: ServiceState, event: PositionsCarried) -> None:
    for pos in event.positions:
        state.positions[pos.key] = pos
        key = (pos.symbol, pos.product)
        state.carried[key] = state.carried.get(key, 0) + pos.net_qty
        state._symbol_net[pos.symbol] = state._symbol_net.get(pos.symbol, 0) + pos.net_qty
    state.carried_marks.update((mark.symbol, mark) for mark in event.marks)


def _on_closes(state: ServiceState, event: SessionCloses | DayCloses) -> None:
    for close in event.closes:
        state.journaled_closes[close.symbol] = close
        state.carried_marks.pop(close.symbol, None)


def _priced(state: ServiceState, symbol: str) -> None:
    """A price of ``symbol`` journaled on the day: its carried mark (the last session's) is stale."""
    if state.carried_marks:
        state.carried_marks.pop(symbol, None)


def _on_orders_carried(state: ServiceState, event: OrdersCarried) -> None:
    for carried in event.orders:
        order = carried.order
        state.orders[order.order_id] = OrderRecord(
            order,
            triggered=carried.triggered,
            unknown=carried.unknown,
            pending_cancel=carried.pending_cancel,
            cancel_sent=carried.cancel_sent,
            broker_order_id=carried.broker_order_id,
            fill_ids=dict.fromkeys(carried.fill_ids),
            filled_qty=carried.filled_qty,
            filled_value=carried.filled_value,
        )
        if carried.broker_order_id is not None:
            state.broker_ids[carried.broker_order_id] = order.order_id
        state.intent_ids.add(order.intent_id)  # a repeat of it is answered, never placed again
        if carried.first_result is not None:
            state.first_results[order.intent_id] = carried.first_result
        if carried.latest_result is not None:
            state.latest_results[order.intent_id] = carried.latest_result
        state.change_keys.update(dict.fromkeys(carried.change_keys, order.order_id))
        key = (order.strategy_code, order.symbol, order.product, order.side)
        state._working_qty[key] = state._working_qty.get(key, 0) + order.qty - carried.filled_qty


def _on_broker_square_off(state: ServiceState, event: BrokerSquareOff) -> None:
    _priced(state, event.symbol)
    legs = state.broker_square_offs.setdefault(event.symbol, {})
    for leg in event.legs:
        legs[leg.strategy_code] = (event, leg)


def _on_result(state: ServiceState, result: ExecutionResult) -> None:
    state.first_results.setdefault(result.intent_id, result)
    state.latest_results[result.intent_id] = result
    state.status_counts[result.status] += 1
    if result.status == "REJECTED":
        state.reject_reasons[result.reject_reason or "other"] += 1


def _on_accepted(state: ServiceState, order: OrderAccepted) -> None:
    state.orders[order.order_id] = OrderRecord(order)
    if order.iceberg_legs:  # an adopted iceberg: its intent, which would name them, is not journaled
        state.iceberg_legs[order.intent_id] = order.iceberg_legs
    key = (order.strategy_code, order.symbol, order.product, order.side)
    state._working_qty[key] = state._working_qty.get(key, 0) + order.qty
    if not order.intent_id.startswith(BROKER_PREFIXES):
        state.breakers.on_order(order.strategy_code, order.ts_event)


def _on_fill(state: ServiceState, fill: Fill) -> None:
    state.fills += 1
    # a physical settlement's delivery is no trade: no tick priced it, and no CNC trade matches it
    delivered = fill.intent_id.startswith(DELIVERY_PREFIX)
    if not delivered:
        _priced(state, fill.symbol)
    key = (fill.strategy_code, fill.symbol, fill.product)
    position = state.positions.get(key) or Position(
        strategy_code=fill.strategy_code, symbol=fill.symbol, product=fill.product
    )
    charges = fill.charges.total
    closing = position.net_qty != 0 and (position.net_qty > 0) != (fill.side == "BUY")
    opened_by = position.open_charges
    position, realized = apply_fill(position, fill.side, fill.qty, fill.price, charges, fill.multiplier)
    state.positions[key] = position
    signed = fill.qty if fill.side == "BUY" else -fill.qty
    state._symbol_net[fill.symbol] = state._symbol_net.get(fill.symbol, 0) + signed
    state.breakers.on_fill(realized, charges)
    if fill.product == CNC and not delivered:
        book_cnc_fill(state.cnc_days, fill)
    if fill.intent_id.startswith(AUTO_SQUARE_OFF_PREFIX) and state.broker_square_offs:
        state.broker_square_offs.get(fill.symbol, {}).pop(fill.strategy_code, None)
    record = state.orders.get(fill.order_id)
    if record is None:
        return
    record.fills += 1
    record.fill_ids[fill.fill_id] = None
    record.filled_qty += fill.qty
    record.filled_value += fill.price * fill.qty
    record.charges += charges
    record.realized_gross += realized
    record.round_trip_charges += charges + opened_by - position.open_charges
    record.closing = record.closing or closing
    _release_working(state, record.order, fill.qty)
    if record.filled_qty >= record.order.qty:
        record.working = False
        _order_closed(state, record)


def _on_modified(state: ServiceState, event: OrderModified) -> None:
    record = state.orders.get(event.order_id)
    if record is None or not record.working:
        return
    old = record.order
    record.order = msgspec.structs.replace(
        old,
        qty=event.qty,
        order_type=event.order_type,
        price=event.price,
        trigger_price=event.trigger_price,
    )
    record.modifications += 1
    key = (old.strategy_code, old.symbol, old.product, old.side)
    state._working_qty[key] = state._working_qty.get(key, 0) + event.qty - old.qty
    if record.filled_qty >= event.qty:
        # a live quantity cut whose fills were booked before its answer: nothing is left to fill
        record.working = False
        _order_closed(state, record)


def _on_cancelled(state: ServiceState, event: OrderCancelled) -> None:
    record = state.orders.get(event.order_id)
    if record is None or not record.working:
        return
    _release_working(state, record.order, record.order.qty - record.filled_qty)
    record.working = False
    if record.filled_qty:
        _order_closed(state, record)


def _release_working(state: ServiceState, order: OrderAccepted, qty: int) -> None:
    key = (order.strategy_code, order.symbol, order.product, order.side)
    left = state._working_qty.get(key, 0) - qty
    if left > 0:
        state._working_qty[key] = left
    else:
        state._working_qty.pop(key, None)


def _order_closed(state: ServiceState, record: OrderRecord) -> None:
    # An exit at the entry price realizes nothing gross but still pays its charges (and
    # opening what it closed did too): a loss.
    if record.closing:
        state.breakers.on_order_closed(record.realized_gross - record.round_trip_charges)


# One lookup by the event's exact type: events are final, tagged structs (no subclasses), and a
# chain of ``match`` cases cost the hot path a test per case.
APPLY: dict[type, Callable[[ServiceState, Any], None]] = {
    OrderIntent: _on_intent,
    CancelIntent: _on_cancel_intent,
    ModifyIntent: _on_modify_intent,
    ExecutionResult: _on_result,
    OrderAccepted: _on_accepted,
    Fill: _on_fill,
    OrderCancelled: _on_cancelled,
    OrderModified: _on_modified,
    OrderAcknowledged: _on_acknowledged,
    OrderUnknown: _on_unknown,
    OrderTriggered: _on_triggered,
    OrderReleased: _on_released,
    BreakerTripped: _on_trip,
    TradingHalted: _on_halted,
    TradingResumed: _on_resumed,
    BreakersReset: _on_reset,
    LimitsChanged: _on_limits_changed,
    JournalOpened: _on_journal_opened,
    PositionsCarried: _on_carried,
    OrdersCarried: _on_orders_carried,
    BrokerSquareOff: _on_broker_square_off,
    SessionCloses: _on_closes,
    DayCloses: _on_closes,
}
