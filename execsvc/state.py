"""The service's state: a fold over journal events.

The service applies every event it journals, in journal order, through :meth:`ServiceState.apply`;
start-up folds the day's journal through the same method. So positions, orders, idempotency
records, breaker figures and latches after a restart are exactly what they were before it. What
each event does to the state is in ``state_fold``; here are the state itself and its queries.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from execsvc.breakers.state import BreakerState

# the broker's id prefixes are re-exported: importers find them where they were
from execsvc.broker_events import AUTO_SQUARE_OFF_PREFIX as AUTO_SQUARE_OFF_PREFIX
from execsvc.broker_events import BROKER_PREFIXES as BROKER_PREFIXES
from execsvc.broker_events import EXPIRY_PREFIX as EXPIRY_PREFIX
from execsvc.clock import trading_day
from execsvc.cnc_day import ScripDay
from execsvc.events import TERMINAL_STATUSES, BrokerSquareOff, DayClose, ExecutionResult, SquareOffLeg
from execsvc.order_record import OrderRecord as OrderRecord  # re-exported: where it was
from execsvc.positions import Position, PositionKey
from execsvc.state_fold import APPLY


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
        # the legs of the day's iceberg intents (``metadata.iceberg_legs``), by intent id: a change
        # of such an order's total is checked against them (``order_changes.handle_modify``)
        self.iceberg_legs: dict[str, int] = {}
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
        # the account's CNC fills of the day by symbol: what a same-day round trip is charged
        self.cnc_days: dict[str, ScripDay] = {}
        # the marks the day carried in (PositionsCarried.marks; live too) that still stand (no
        # price of their instrument journaled since), and the last ticks journaled past an exchange's
        # close or at the date line (SessionCloses, DayCloses); see ``marks``
        self.carried_marks: dict[str, DayClose] = {}
        self.journaled_closes: dict[str, DayClose] = {}

    # -- the fold -------------------------------------------------------------------------------

    def apply(self, event: Any, ts: int = 0) -> None:
        """Fold one journal event into the state (events that change nothing here are skipped)."""
        handler = APPLY.get(type(event))
        if handler is not None:
            handler(self, event)

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
        self.iceberg_legs.clear()
        self.first_results.clear()
        self.latest_results.clear()
        self.positions.clear()
        self.carried.clear()
        self._working_qty.clear()
        self._symbol_net.clear()
        self.broker_square_offs.clear()
        self.cnc_days.clear()
        self.carried_marks.clear()
        self.journaled_closes.clear()

    # -- queries ----------------------------------------------------------------------------------

    def marks(self) -> dict[str, DayClose]:
        """The last prices of ticks the day's journal holds, by symbol (paper, dry-run): a carried
        mark until the day journals a price of its instrument (a fill, a trigger, a square-off: a
        tick that day, not journaled), then a close journaled later (``SessionCloses``,
        ``DayCloses``). What a start after the day's date line carries into the next day."""
        return self.carried_marks | self.journaled_closes

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
