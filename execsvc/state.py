"""The service's state: a fold over journal events.

The service applies every event it journals, in journal order, through :meth:`ServiceState.apply`;
start-up folds the day's journal through the same method. So positions, orders, idempotency
records, breaker figures and latches after a restart are exactly what they were before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from execsvc.breakers.state import BreakerState
from execsvc.clock import trading_day
from execsvc.events import (
    TERMINAL_STATUSES,
    BreakersReset,
    BreakerTripped,
    BrokerSquareOff,
    CancelIntent,
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
    SquareOffLeg,
    TradingHalted,
    TradingResumed,
)
from execsvc.order_record import OrderRecord as OrderRecord  # re-exported: where it was
from execsvc.positions import Position, PositionKey, apply_fill

AUTO_SQUARE_OFF_PREFIX = "auto-sqoff-"  # the intents of the paper broker's auto square-off
EXPIRY_PREFIX = "expiry-"  # the intents of the simulated exchange's expiry settlement
# the simulated broker's and exchange's own orders: no intent from outside may take these ids
# (validation), and they are not the trader's trades (live, the broker's never reach the journal)
BROKER_PREFIXES = (AUTO_SQUARE_OFF_PREFIX, EXPIRY_PREFIX)


class ServiceState:
    """Positions, orders, results and breaker figures; changed only by :meth:`apply`."""

    def __init__(self, capital: float) -> None:
        self.positions: dict[PositionKey, Position] = {}
        # net quantity the day carried in (PositionsCarried), per (symbol, product): the live
        # reconciliation tells a CNC position's earlier days (the broker's holdings) from its day
        self.carried: dict[tuple[str, str], int] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.first_results: dict[str, ExecutionResult] = {}
        self.latest_results: dict[str, ExecutionResult] = {}
        self.intents_seen = 0
        self.intent_ids: set[str] = set()
        self.breakers = BreakerState(capital)
        self.day = ""
        self.result_mode = ""  # the day's: paper, live or dry-run (from its JournalOpened)
        self.status_counts: Counter[str] = Counter()
        self.reject_reasons: Counter[str] = Counter()
        self.fills = 0
        self.broker_ids: dict[str, str] = {}
        # the cancels and modifications handled, by submission key: the order each named ("" when
        # the journaled request no longer says); a carried order's come with it into the new day
        self.change_keys: dict[str, str] = {}
        self._working_qty: dict[tuple[str, str, str, str], int] = {}
        self._symbol_net: dict[str, int] = {}
        # the paper broker's auto square-offs of the day whose positions are not all closed yet, by
        # symbol and strategy: the broker's order and the position's share (a restart goes on)
        self.broker_square_offs: dict[str, dict[str, tuple[BrokerSquareOff, SquareOffLeg]]] = {}

    # -- the fold -------------------------------------------------------------------------------

    def apply(self, event: Any, ts: int = 0) -> None:
        """Fold one journal event into the state (events that change nothing here are skipped)."""
        handler = _APPLY.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_intent(self, event: OrderIntent) -> None:
        self.intents_seen += 1
        self.intent_ids.add(event.intent_id)

    def _on_cancel_intent(self, event: CancelIntent) -> None:
        if event.key:
            target = self.change_target(event.order_id, event.intent_id)
            self._change_handled(event.key, target)
            if target is not None:  # a deferred cancel is held; the next one (sent) replaces it
                target.pending_cancel = event if event.deferred else None
                target.cancel_sent = None if event.deferred or event.refused else event

    def _on_modify_intent(self, event: ModifyIntent) -> None:
        if event.key:
            self._change_handled(event.key, self.change_target(event.order_id))

    def _change_handled(self, key: str, target: OrderRecord | None) -> None:
        self.change_keys[key] = target.order.order_id if target is not None else ""

    def _on_acknowledged(self, event: OrderAcknowledged) -> None:
        acked = self.orders.get(event.order_id)
        if acked is not None:
            acked.broker_order_id = event.broker_order_id
            acked.unknown = False
            if event.reopened and not acked.working:
                acked.working = True
                order = acked.order
                key = (order.strategy_code, order.symbol, order.product, order.side)
                self._working_qty[key] = self._working_qty.get(key, 0) + order.qty - acked.filled_qty
        self.broker_ids[event.broker_order_id] = event.order_id

    def _on_unknown(self, event: OrderUnknown) -> None:
        unknown = self.orders.get(event.order_id)
        if unknown is not None:
            unknown.unknown = True

    def _on_released(self, event: OrderReleased) -> None:
        released = self.orders.get(event.order_id)
        if released is not None:
            released.released = True

    def _on_triggered(self, event: OrderTriggered) -> None:
        triggered = self.orders.get(event.order_id)
        if triggered is not None:
            triggered.triggered = True
            # a stop triggers only at the exchange (and journals written before OrderReleased
            # existed marked an after-market order that went out with OrderTriggered)
            triggered.released = True

    def _on_trip(self, event: BreakerTripped) -> None:
        key = event.breaker
        if event.breaker == "max_trades_per_strategy_per_day":
            key = f"{event.breaker}:{event.strategy_code}"
        self.breakers.on_trip(key, event.message, event.latched)

    def _on_halted(self, event: TradingHalted) -> None:
        self.breakers.halted_reason = event.reason

    def _on_resumed(self, event: TradingResumed) -> None:
        self.breakers.halted_reason = None

    def _on_reset(self, event: BreakersReset) -> None:
        self.breakers.on_reset()

    def _on_limits_changed(self, event: LimitsChanged) -> None:
        capital = event.limits.get("capital_rupees")
        if isinstance(capital, int | float) and not isinstance(capital, bool) and capital > 0:
            self.breakers.set_capital(float(capital))

    def _on_journal_opened(self, event: JournalOpened) -> None:
        if event.capital is not None and event.day != self.day:
            # the day's capital as it opened (a reload before the date line carries over; a
            # restart measures drawdown against the same capital as the running service did)
            self.breakers.capital = event.capital
        self.new_day(event.day)
        self.result_mode = event.result_mode

    def _on_carried(self, event: PositionsCarried) -> None:
        for pos in event.positions:
            self.positions[pos.key] = pos
            key = (pos.symbol, pos.product)
            self.carried[key] = self.carried.get(key, 0) + pos.net_qty
            self._symbol_net[pos.symbol] = self._symbol_net.get(pos.symbol, 0) + pos.net_qty

    def _on_orders_carried(self, event: OrdersCarried) -> None:
        for carried in event.orders:
            order = carried.order
            self.orders[order.order_id] = OrderRecord(
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
                self.broker_ids[carried.broker_order_id] = order.order_id
            self.intent_ids.add(order.intent_id)  # a repeat of it is answered, never placed again
            if carried.first_result is not None:
                self.first_results[order.intent_id] = carried.first_result
            if carried.latest_result is not None:
                self.latest_results[order.intent_id] = carried.latest_result
            self.change_keys.update(dict.fromkeys(carried.change_keys, order.order_id))
            key = (order.strategy_code, order.symbol, order.product, order.side)
            self._working_qty[key] = self._working_qty.get(key, 0) + order.qty - carried.filled_qty

    def new_day(self, day: str) -> None:
        """Start a trading day: day figures reset; positions are replaced by ``PositionsCarried``."""
        if day == self.day:
            return
        self.day = day
        self.breakers.new_day(day)
        self.intents_seen = 0  # the day's counters, as a restart folds them from the day's file
        self.status_counts.clear()
        self.reject_reasons.clear()
        self.fills = 0
        self.orders.clear()
        self.broker_ids.clear()
        self.change_keys.clear()
        self.intent_ids.clear()
        self.first_results.clear()
        self.latest_results.clear()
        self.positions.clear()
        self.carried.clear()
        self._working_qty.clear()
        self._symbol_net.clear()
        self.broker_square_offs.clear()

    def _on_broker_square_off(self, event: BrokerSquareOff) -> None:
        legs = self.broker_square_offs.setdefault(event.symbol, {})
        for leg in event.legs:
            legs[leg.strategy_code] = (event, leg)

    def _on_result(self, result: ExecutionResult) -> None:
        self.first_results.setdefault(result.intent_id, result)
        self.latest_results[result.intent_id] = result
        self.status_counts[result.status] += 1
        if result.status == "REJECTED":
            self.reject_reasons[result.reject_reason or "other"] += 1

    def _on_accepted(self, order: OrderAccepted) -> None:
        self.orders[order.order_id] = OrderRecord(order)
        key = (order.strategy_code, order.symbol, order.product, order.side)
        self._working_qty[key] = self._working_qty.get(key, 0) + order.qty
        if not order.intent_id.startswith(BROKER_PREFIXES):
            self.breakers.on_order(order.strategy_code, order.ts_event)

    def _on_fill(self, fill: Fill) -> None:
        self.fills += 1
        key = (fill.strategy_code, fill.symbol, fill.product)
        position = self.positions.get(key) or Position(
            strategy_code=fill.strategy_code, symbol=fill.symbol, product=fill.product
        )
        charges = fill.charges.total
        closing = position.net_qty != 0 and (position.net_qty > 0) != (fill.side == "BUY")
        opened_by = position.open_charges
        position, realized = apply_fill(position, fill.side, fill.qty, fill.price, charges, fill.multiplier)
        self.positions[key] = position
        signed = fill.qty if fill.side == "BUY" else -fill.qty
        self._symbol_net[fill.symbol] = self._symbol_net.get(fill.symbol, 0) + signed
        self.breakers.on_fill(realized, charges)
        if fill.intent_id.startswith(AUTO_SQUARE_OFF_PREFIX) and self.broker_square_offs:
            self.broker_square_offs.get(fill.symbol, {}).pop(fill.strategy_code, None)
        record = self.orders.get(fill.order_id)
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
        self._release_working(record.order, fill.qty)
        if record.filled_qty >= record.order.qty:
            record.working = False
            self._order_closed(record)

    def _on_modified(self, event: OrderModified) -> None:
        record = self.orders.get(event.order_id)
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
        self._working_qty[key] = self._working_qty.get(key, 0) + event.qty - old.qty
        if record.filled_qty >= event.qty:
            # a live quantity cut whose fills were booked before its answer: nothing is left to fill
            record.working = False
            self._order_closed(record)

    def _on_cancelled(self, event: OrderCancelled) -> None:
        record = self.orders.get(event.order_id)
        if record is None or not record.working:
            return
        self._release_working(record.order, record.order.qty - record.filled_qty)
        record.working = False
        if record.filled_qty:
            self._order_closed(record)

    def _release_working(self, order: OrderAccepted, qty: int) -> None:
        key = (order.strategy_code, order.symbol, order.product, order.side)
        left = self._working_qty.get(key, 0) - qty
        if left > 0:
            self._working_qty[key] = left
        else:
            self._working_qty.pop(key, None)

    def _order_closed(self, record: OrderRecord) -> None:
        # An exit at the entry price realizes nothing gross but still pays its charges (and
        # opening what it closed did too): a loss.
        if record.closing:
            self.breakers.on_order_closed(record.realized_gross - record.round_trip_charges)

    # -- queries ----------------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderRecord | None:
        """An order by our id (the paper id, or a live order's tag) or by the broker's order id."""
        record = self.orders.get(order_id)
        if record is None:
            tag = self.broker_ids.get(order_id)
            if tag is not None:
                record = self.orders.get(tag)
        return record

    def next_order_id(self) -> str:
        """The id the next order accepted today gets (``YYYYMMDDP`` and a count; replays repeat it)."""
        return f"{self.day.replace('-', '')}P{len(self.orders) + 1:07d}"

    def change_target(self, order_id: str, intent_id: str = "") -> OrderRecord | None:
        """The order a cancel or a modification names: by its id (ours or the broker's) or, with no
        id, by the intent that placed it (a cancel may name it so)."""
        if not order_id and intent_id:
            order_id = next((oid for oid, r in self.orders.items() if r.order.intent_id == intent_id), "")
        return self.order(order_id) if order_id else None

    def change_keys_by_order(self) -> dict[str, list[str]]:
        """The keys of the changes handled, by the order they named (what a carried order takes along)."""
        by_order: dict[str, list[str]] = {}
        for key, order_id in self.change_keys.items():
            by_order.setdefault(order_id, []).append(key)
        return by_order

    def position(self, strategy_code: str, symbol: str, product: str) -> Position | None:
        """One position, if any fill touched it today (or it was carried in)."""
        return self.positions.get((strategy_code, symbol, product))

    def working_qty(self, strategy_code: str, symbol: str, product: str, side: str) -> int:
        """Quantity of working orders of a strategy on one side of a symbol."""
        return self._working_qty.get((strategy_code, symbol, product, side), 0)

    def symbol_net_qty(self, symbol: str) -> int:
        """The account's net position in a symbol across strategies and products."""
        return self._symbol_net.get(symbol, 0)

    def product_net_qty(self, symbol: str, product: str) -> int:
        """The account's net position in one product of a symbol, across strategies."""
        return sum(p.net_qty for key, p in self.positions.items() if key[1:] == (symbol, product))

    def working_orders(self) -> list[OrderRecord]:
        """Orders still working, in the order they were accepted."""
        return [r for r in self.orders.values() if r.working]

    def orders_accepted_today(self) -> int:
        """Orders accepted on the state's day (not those carried in from an earlier one)."""
        day = self.day
        return sum(1 for r in self.orders.values() if trading_day(r.order.ts_event).isoformat() == day)

    def is_terminal(self, intent_id: str) -> bool:
        """Whether the intent's latest result is final."""
        latest = self.latest_results.get(intent_id)
        return latest is not None and latest.status in TERMINAL_STATUSES


# One lookup by the event's exact type: events are final, tagged structs (no subclasses), and a
# chain of ``match`` cases cost the hot path a test per case.
_APPLY: dict[type, Callable[[ServiceState, Any], None]] = {
    OrderIntent: ServiceState._on_intent,
    CancelIntent: ServiceState._on_cancel_intent,
    ModifyIntent: ServiceState._on_modify_intent,
    ExecutionResult: ServiceState._on_result,
    OrderAccepted: ServiceState._on_accepted,
    Fill: ServiceState._on_fill,
    OrderCancelled: ServiceState._on_cancelled,
    OrderModified: ServiceState._on_modified,
    OrderAcknowledged: ServiceState._on_acknowledged,
    OrderUnknown: ServiceState._on_unknown,
    OrderTriggered: ServiceState._on_triggered,
    OrderReleased: ServiceState._on_released,
    BreakerTripped: ServiceState._on_trip,
    TradingHalted: ServiceState._on_halted,
    TradingResumed: ServiceState._on_resumed,
    BreakersReset: ServiceState._on_reset,
    LimitsChanged: ServiceState._on_limits_changed,
    JournalOpened: ServiceState._on_journal_opened,
    PositionsCarried: ServiceState._on_carried,
    OrdersCarried: ServiceState._on_orders_carried,
    BrokerSquareOff: ServiceState._on_broker_square_off,
}
