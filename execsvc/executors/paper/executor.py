"""The paper executor: the SmartFillSimulator driven by ticks, with resting orders.

It keeps the latest tick per instrument and the resting orders (price-ordered, see ``book``), and
turns orders into journal events through the ``emit`` callback the engine gives it, so every fill
is journaled and folded into the state the moment it happens. Decisions are delegated to the pure
functions of ``fills``; charges come from the cost model. Nothing here reads the wall clock: the
engine passes ``now_ns``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from execsvc.clock import trading_day
from execsvc.cnc_day import charge_fill
from execsvc.costs import CostModel
from execsvc.errors import ValidationError
from execsvc.events import (
    Charges,
    ExecutionResult,
    Fill,
    ModifyIntent,
    OrderIntent,
)
from execsvc.executors.base import Emit, accepted, cancelled, order_result, rejected
from execsvc.executors.paper.after_market import hold_for_open, release_after_market
from execsvc.executors.paper.auto_square_off import auto_square_off, square_off_symbol
from execsvc.executors.paper.book import RestingBook, rest_again
from execsvc.executors.paper.changes import modify_working
from execsvc.executors.paper.cutoffs import BrokerCutoffs
from execsvc.executors.paper.day_closes import carried_marks, journal_day_closes
from execsvc.executors.paper.expiry import settle_expired
from execsvc.executors.paper.fills import (
    Consumed,
    FillModel,
    aggressive_fills,
    sound_last_price,
)
from execsvc.executors.paper.holdings import broker_refusal
from execsvc.executors.paper.last_session import CurrentDay, resent
from execsvc.executors.paper.matching import match_resting
from execsvc.executors.paper.session_closes import SessionCloseMarks
from execsvc.market.freeze import FreezeQuantities
from execsvc.market.instruments import Instruments
from execsvc.market.multipliers import Multipliers, multiplier_field
from execsvc.market.ticks import Tick
from execsvc.state import OrderRecord, ServiceState

log = logging.getLogger("execsvc.paper")


class PaperExecutor:
    """Fills orders against the latest ticks; see the module docstring."""

    mode = "paper"

    def __init__(
        self,
        *,
        model: FillModel,
        instruments: Instruments,
        default_tick_size: float,
        costs: CostModel,
        state: ServiceState,
        emit: Emit,
        result_mode: str = "paper",
        multipliers: Mapping[str, float] | None = None,
        freeze: FreezeQuantities | None = None,
    ) -> None:
        self.model = model
        self.freeze = freeze  # the broker's square-off goes out in orders the exchange takes
        self.instruments = instruments
        self.multipliers = Multipliers(multipliers or {}, instruments, state.positions.values)
        self.default_tick_size = default_tick_size
        self.costs = costs
        self.state = state
        self.emit = emit
        self.result_mode = result_mode
        self.market: dict[str, Tick] = {}  # today's last tick per instrument: what orders trade on
        self.closes: dict[str, Tick] = {}  # the last tick before the date line: a mark, never a fill
        self.book = RestingBook()
        self.consumed: dict[str, Consumed] = {}  # depth this tick's fills took: not there again
        self._tick_sizes: dict[str, float] = {}
        self.quote_refs = model.use_bid_ask_spread or model.use_depth  # resting LIMITs meet the quote
        self.waiting: dict[str, dict[str, None]] = {}  # after-market orders by symbol, in order
        self.cutoffs = BrokerCutoffs()  # the broker's MIS auto square-off (given a session calendar)
        self.session_closes = SessionCloseMarks()  # held instruments' last ticks past their close
        # a day rolled over at a start after its date line (``last_day``): its journal's last prices
        self.journal_marks: dict[str, Tick] = {}
        # a start after a kill midway through the date line: the ticks it journaled first
        # (``DayCloses``), which the running service still had in ``market`` (``carried_marks``)
        self.line_closes: dict[str, Tick] = {}
        # live marks at the feed's ticks, whenever stamped: only a simulated broker passes over
        # the last session's ticks a subscription sends again (``last_session``)
        self.today: CurrentDay | None = CurrentDay() if result_mode != "live" else None
        # the instrument tokens the service's feed subscribes (``kite_feed``): the last ticks it
        # would send again on a subscription, which the date line cannot forget undated
        self.feed_tokens: Callable[[], Collection[int]] = tuple

    # -- reference data ---------------------------------------------------------------------------

    def tick_size(self, symbol: str) -> float:
        """The instrument's tick, or the default when the instruments dump does not know it."""
        size = self._tick_sizes.get(symbol)
        if size is None:
            inst = self.instruments.by_key(symbol)
            size = self._tick_sizes[symbol] = inst.tick_size if inst is not None else self.default_tick_size
        return size

    def last_price(self, symbol: str) -> float | None:
        """The last traded price, if a tick has arrived (today's, else the last session's close)."""
        tick = self.market.get(symbol) or self.closes.get(symbol)
        return tick.last_price if tick is not None else None

    # -- results ----------------------------------------------------------------------------------

    def result(
        self,
        record: OrderRecord,
        status: str,
        now_ns: int,
        message: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """The order's current result, emitted to the journal."""
        result = order_result(record, status, now_ns, self.result_mode, message=message, raw=raw)
        self.emit(result)
        return result

    def reject(self, intent: OrderIntent, reason: str, message: str, now_ns: int) -> ExecutionResult:
        """A REJECTED result for an order the simulator will not take."""
        result = rejected(intent, reason, message, now_ns, self.result_mode)
        self.emit(result)
        return result

    # -- orders -----------------------------------------------------------------------------------

    def place(
        self,
        intent: OrderIntent,
        order_id: str,
        reducing: bool,
        now_ns: int,
        *,
        not_after_ns: int | None = None,
    ) -> ExecutionResult:
        """Take an order that passed the breakers; returns its first result (paper ages nothing)."""
        refused = self.cutoffs.refusal(intent, now_ns, reducing=reducing, net_qty=self.state.product_net_qty)
        if refused is not None:
            return self.reject(intent, "after_auto_square_off", refused, now_ns)
        symbol = intent.symbol
        tick = self.market.get(symbol)
        at_open = self.cutoffs.waits_for_auction(intent, now_ns)  # it needs no tick: it waits for one
        if (refusal := broker_refusal(intent, tick, self.state, at_open=at_open)) is not None:
            return self.reject(intent, *refusal, now_ns)
        multiplier = self.multipliers.for_order(symbol)
        self.emit(accepted(intent, order_id, reducing, now_ns, multiplier, at_open=at_open))
        record = self.state.orders[order_id]
        if record.waits_for_open:  # an AMO or a pre-open future: it meets the market at the open, not now
            return hold_for_open(self, record, now_ns)
        if intent.order_type in ("SL", "SL-M"):
            self.book.add_stop(symbol, intent.side, intent.trigger_price or 0.0, order_id)
            return self.result(record, "PLACED", now_ns, "waiting for the trigger")
        assert tick is not None
        return self.work(record, tick, now_ns)

    def work(
        self, record: OrderRecord, tick: Tick, now_ns: int, raw: dict[str, Any] | None = None
    ) -> ExecutionResult:
        """Work an order against ``tick`` now: take what it can, then rest, cancel or finish it."""
        order = record.order
        market_like = order.order_type in ("MARKET", "SL-M")
        limit = None if market_like else order.price
        fills = aggressive_fills(
            order.side,
            record.remaining,
            limit,
            tick,
            self.model,
            self.tick_size(order.symbol),
            self.consumed.setdefault(order.symbol, {}),
        )
        for qty, price in fills:
            self.book_fill(record, qty, price, now_ns, "taker")
        if record.remaining == 0:
            return self.result(record, "FILLED", now_ns, raw=raw)
        if market_like or order.validity == "IOC":
            why = "no liquidity left for the rest" if market_like else "IOC: the rest was not marketable"
            return self.cancel_working(record, now_ns, why, partial=True, raw=raw)
        assert limit is not None
        self.book.add_limit(order.symbol, order.side, limit, order.order_id)
        if record.filled_qty:
            return self.result(record, "PARTIAL", now_ns, "the rest rests as a LIMIT", raw=raw)
        return self.result(record, "PLACED", now_ns, "resting until the market crosses the limit", raw=raw)

    def take(self, record: OrderRecord, now_ns: int, raw: dict[str, Any] | None = None) -> ExecutionResult:
        """Work an order accepted elsewhere (dry-run): fill, rest or cancel it as paper would."""
        order = record.order
        tick = self.market.get(order.symbol)
        refusal = broker_refusal(order, tick, self.state, before=order.order_id, at_open=order.at_open)
        if refusal is None and record.waits_for_open:
            return hold_for_open(self, record, now_ns, raw)
        if refusal is not None:  # what the broker would answer: a dry run rehearses the refusal too
            reason, message = refusal
            self.emit(cancelled(record, message, now_ns))
            result = order_result(
                record, "REJECTED", now_ns, self.result_mode, message=message, raw=raw, reject_reason=reason
            )
            self.emit(result)
            return result
        assert tick is not None
        if order.order_type in ("SL", "SL-M"):
            self.book.add_stop(order.symbol, order.side, order.trigger_price or 0.0, order.order_id)
            return self.result(record, "PLACED", now_ns, "waiting for the trigger", raw=raw)
        return self.work(record, tick, now_ns, raw)

    def book_fill(
        self,
        record: OrderRecord,
        qty: int,
        price: float,
        now_ns: int,
        liquidity: str,
        fill_id: str | None = None,
        *,
        charges: Charges | None = None,
    ) -> None:
        """Journal one fill of ``record`` with its charges (the live executor books broker trades here).

        ``fill_id`` defaults to the order id and the fill's number. The charges are the cost
        model's at the rates of ``now_ns``'s IST day, unless ``charges`` gives them (the broker's
        square-off shares the charges of its one order out: ``auto_square_off``).

        Raises:
            ValidationError: ``qty`` is not positive (a journaled fill of nothing would not fold back).
        """
        if qty <= 0:
            raise ValidationError(f"qty={qty!r}: a fill of order {record.order.order_id} must be positive")
        order = record.order
        if charges is None:  # a CNC fill's depend on the day's CNC fills of its scrip (cnc_day)
            charges = charge_fill(
                self.costs,
                self.state.cnc_days,
                order,
                price=price,
                qty=qty,
                instrument_type=self.instruments.instrument_type(order.symbol),
                trade_day=trading_day(now_ns),
                order_value_before=record.filled_value,
            )
        self.emit(
            Fill(
                fill_id=fill_id or f"{order.order_id}-{record.fills + 1}",
                order_id=order.order_id,
                intent_id=order.intent_id,
                strategy_code=order.strategy_code,
                symbol=order.symbol,
                side=order.side,
                qty=qty,
                price=price,
                product=order.product,
                charges=charges,
                liquidity=liquidity,
                ts_event=now_ns,
                **multiplier_field(order.multiplier),
            )
        )

    def cancel_working(
        self,
        record: OrderRecord,
        now_ns: int,
        reason: str,
        *,
        partial: bool = False,
        raw: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        order = record.order
        self.book.discard(order.symbol, order.order_id)
        if self.waiting:
            self.waiting.get(order.symbol, {}).pop(order.order_id, None)
        self.emit(cancelled(record, reason, now_ns))
        status = "PARTIAL" if partial and record.filled_qty else "CANCELLED"
        return self.result(record, status, now_ns, reason, raw=raw)

    def cancel(self, order_id: str, reason: str, now_ns: int) -> ExecutionResult | None:
        """Cancel a working order; None when it is not working (filled, cancelled, unknown)."""
        record = self.state.orders.get(order_id)
        if record is None or not record.working:
            return None
        return self.cancel_working(record, now_ns, reason or "cancelled on request")

    def modify(self, order_id: str, change: ModifyIntent, now_ns: int) -> ExecutionResult | None:
        """Change a working order's terms and work it again (see ``changes.modify_working``)."""
        return modify_working(self, order_id, change, now_ns)

    def cancel_waits(self, record: OrderRecord) -> str | None:
        """Never: a paper order is cancelled at once."""
        return None

    def modify_waits(self, record: OrderRecord) -> str | None:
        """Never: a paper order is modified at once."""
        return None

    def expire_all(self, now_ns: int, reason: str) -> None:
        """The date line at the simulated broker: working DAY orders are cancelled, then open MIS
        squared off (``auto_square_off``), then the contracts that expired are settled (``expiry``:
        their positions closed, their orders ended); a waiting AMO goes on (``day_rollover`` carries it).
        Their prices are journaled first (``day_closes``): a restart after a kill midway closes at them.

        The day's last ticks of what the new day holds become closes (``carried_marks``: the rest
        are forgotten, as a restart forgets them): they still mark positions (``last_price``), but
        an order of the new day waits for its instrument's first tick of that day, as after a fresh
        start, instead of filling at the last session's price (but for an undated tick the feed
        would send again, which no run can tell from the day's: ``last_session``)."""
        journal_day_closes(self, now_ns)
        for record in self.state.working_orders():
            if not record.amo_waiting:  # a pre-open future is a DAY order: it ends too
                self.cancel_working(record, now_ns, reason)
        auto_square_off(self, now_ns)
        settle_expired(self, now_ns)
        self.cutoffs.new_day()
        self.session_closes.new_day()
        self.forget_prices(now_ns)

    def forget_prices(self, now_ns: int) -> None:
        """At the date line into ``now_ns``'s day: keep the last ticks of what the new day holds as
        its marks (``closes``, from ``carried_marks``) and forget the rest, as a restart does. Live
        takes the marks alike but keeps the feed's prices, which a subscription sends again
        (``kite.date_line``); so do paper and dry-run those the feed would send again with no time
        to tell them by (``last_session.resent``: ltp and quote ticks)."""
        self.journal_marks = {}
        self.closes = carried_marks(self, now_ns)
        self.line_closes = {}
        self.market = resent(self.market, self.feed_tokens())

    def restore(self) -> None:
        """Rest the working orders of a folded journal again (after a restart)."""
        rest_again(self.book, self.waiting, self.state.working_orders())

    # -- ticks ------------------------------------------------------------------------------------

    def on_tick(self, tick: Tick, now_ns: int) -> None:
        """Record the tick and fill whatever resting orders it crosses, in its exchange's normal
        session (``cutoffs.in_session``: always without a calendar). Out of it (Kite ticks before
        the open and after the close; a feed resends its last ticks) the tick is the market's
        last price all the same, but no exchange matches then: no stop triggers, no LIMIT fills.

        A tick without a positive last price moves nothing: Kite sends 0 for an instrument that has
        not traded yet, and a NaN, infinite or negative price (a bad feed, a library caller's
        mistake) would fill or trigger orders at a price that never was. So does one above
        ``MAX_PRICE``, the most any order may name: a MARKET order would fill at 1e300.

        Nor does a tick the exchange stamped before the current IST day, on paper and in dry-run:
        the last session's, which a subscription sends again after the date line (``last_session``).
        """
        symbol = tick.symbol
        last = tick.last_price
        if not sound_last_price(last):
            if last != 0.0:
                log.warning("tick for %s ignored: last_price=%r is not in (0, 1 crore]", symbol, last)
            return
        if self.today is not None and self.today.predates(tick, now_ns):
            return
        self.market[symbol] = tick
        if now_ns >= self.session_closes.from_ns:
            self.session_closes.on_tick(self, tick, now_ns)
        cutoffs = self.cutoffs
        if now_ns >= cutoffs.earliest and cutoffs.due(symbol, now_ns):
            square_off_symbol(self, symbol, now_ns)
        consumed = self.consumed.get(symbol)
        if consumed:
            consumed.clear()
        if self.waiting and symbol in self.waiting:
            release_after_market(self, tick, now_ns)
        if self.book.has_orders(symbol) and self.cutoffs.in_session(symbol, now_ns):
            match_resting(self, tick, now_ns)
