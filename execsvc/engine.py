"""The engine: intents in, through validation and breakers, to an executor; events out to the journal.

Everything that changes state goes through :meth:`Engine.emit`, which appends the event to the
journal and folds it into the state in one step, so the state is always the fold of the journal.
Results are *released* (to the caller waiting on them and to the bus) only once their record is
durable under the journal's policy.

The engine runs in one consumer task (the bus's ``intents`` subscriber) and in the callers of
:meth:`on_tick`; all state changes are synchronous between awaits, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from execsvc.breakers.rules import check_order
from execsvc.bus.base import Bus
from execsvc.clock import Clock, iso_ist, ist_ns, trading_day
from execsvc.config import CircuitBreakerConfig, Config
from execsvc.costs import CostModel
from execsvc.errors import IntentValidationError
from execsvc.events import (
    BreakersReset,
    BreakerTripped,
    CancelIntent,
    ExecutionResult,
    JournalOpened,
    LimitsChanged,
    OrderIntent,
    PositionsCarried,
    TradingHalted,
    TradingResumed,
)
from execsvc.executors.base import Executor
from execsvc.executors.paper.executor import PaperExecutor
from execsvc.executors.paper.fills import FillModel
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.journal.store import JournalWriter
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.positions import Position, is_reducing
from execsvc.state import ServiceState
from execsvc.validation import salvage_identity, validate_intent

log = logging.getLogger("execsvc.engine")

RESULTS_TOPIC = "results"
INTENTS_TOPIC = "intents"
_DAY_NS = 86_400 * 1_000_000_000
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._\-]")


class SessionGate(Protocol):
    """The market calendar's say on whether an order may go out now (see ``execsvc.calendar``)."""

    def may_place(self, exchange: str, ts_ns: int, *, variety: str) -> tuple[bool, str]:
        """(allowed, reason)."""
        ...


class Submission(msgspec.Struct, frozen=True):
    """An intent (or a cancel) on its way to the engine; ``key`` names the caller's waiter.

    ``square_off`` marks the service's own square-off orders: when they only reduce a position they
    pass a halt (getting flat is always allowed); every other breaker still applies.
    """

    intent: OrderIntent | CancelIntent
    key: str
    square_off: bool = False


class Engine:
    """Validation, idempotency, breakers and the executor, over one journal and one state."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        journal: JournalWriter,
        bus: Bus,
        instruments: Instruments,
        costs: CostModel,
        mode: str = "paper",
    ) -> None:
        self.config = config
        self.clock = clock
        self.journal = journal
        self.bus = bus
        self.instruments = instruments
        self.mode = mode
        self.limits = config.execution.circuit_breakers
        self.state = ServiceState(self.limits.capital_rupees)
        ex = config.execution
        self.paper = PaperExecutor(
            model=FillModel(ex.slippage_bps, ex.use_bid_ask_spread, ex.use_depth),
            instruments=instruments,
            default_tick_size=config.market.default_tick_size,
            costs=costs,
            state=self.state,
            emit=self.emit,
            result_mode="dry-run" if mode == "live" and ex.dry_run else mode,
        )
        self.executor: Executor = self.paper
        self._waiters: dict[str, list[asyncio.Future[ExecutionResult]]] = {}
        self._answers: deque[tuple[int, str, ExecutionResult]] = deque()
        self._outbox: deque[tuple[int, ExecutionResult]] = deque()
        self._pending_answers: dict[str, list[str]] = {}
        self._first_seq: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._day_end_ns = 0
        self.result_listener: Callable[[ExecutionResult], None] | None = None
        self.calendar: SessionGate | None = None
        journal.on_durable = self.release

    # -- journal + state in one step --------------------------------------------------------------

    def emit(self, event: Any) -> int:
        """Journal an event and fold it into the state; returns its journal ``seq``."""
        ts = self.clock.now_ns()
        seq = self.journal.append(event, ts)
        self.state.apply(event, ts)
        if type(event) is ExecutionResult:
            intent_id = event.intent_id
            self._first_seq.setdefault(intent_id, seq)
            self._outbox.append((seq, event))
            keys = self._pending_answers.pop(intent_id, None)
            if keys is not None:
                for key in keys:
                    self._answers.append((seq, key, event))
            if self.result_listener is not None:
                self.result_listener(event)
        return seq

    async def release(self, durable_seq: int) -> None:
        """Hand durable results to their waiters and to the bus (the journal calls this)."""
        answers = self._answers
        while answers and answers[0][0] <= durable_seq:
            _, key, result = answers.popleft()
            for fut in self._waiters.pop(key, ()):
                if not fut.done():
                    fut.set_result(result)
        outbox = self._outbox
        while outbox and outbox[0][0] <= durable_seq:
            _, result = outbox.popleft()
            await self.bus.publish(RESULTS_TOPIC, result)

    def wait_for(self, key: str) -> asyncio.Future[ExecutionResult]:
        """A future for the answer to the submission ``key``."""
        fut: asyncio.Future[ExecutionResult] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(fut)
        return fut

    def answered(self, intent_id: str) -> ExecutionResult | None:
        """The released first result of an intent already handled, if any (idempotency)."""
        result = self.state.first_results.get(intent_id)
        if result is None:
            return None
        if self._first_seq.get(intent_id, -1) > self.journal.durable_seq:
            return None
        return result

    def make_intent_id(self, intent: OrderIntent, ts_init: int) -> str:
        """A fresh intent id: strategy, time and a counter (replays give the same ids)."""
        strategy = _UNSAFE_ID.sub("_", str(intent.strategy_code))[:24] or "anon"
        return f"{strategy}-{ts_init}-{next(self._ids)}"

    # -- start-up and day rollover ----------------------------------------------------------------

    def open(self) -> None:
        """Open today's journal and fold it; carry positions in from the last journaled day if new."""
        now = self.clock.now_ns()
        day = trading_day(now).isoformat()
        existing = self.journal.open(day)
        if existing.records:
            for record in existing.records:
                self.state.apply(record.ev, record.ts)
                if type(record.ev) is ExecutionResult:
                    self._first_seq.setdefault(record.ev.intent_id, record.seq)
            log.info(
                "folded %d journal records of %s: %d positions, %d working orders",
                len(existing.records),
                day,
                len(self.state.positions),
                len(self.state.working_orders()),
            )
        else:
            self._start_day(day, self._carry_from_previous(day), now)
        self.executor.restore()
        self._set_day_end(now)

    def _carry_from_previous(self, day: str) -> list[Position]:
        earlier = [d for d in journal_days(self.journal.directory) if d < day]
        if not earlier:
            return []
        previous = ServiceState(self.limits.capital_rupees)
        for record in read_journal(journal_path(self.journal.directory, earlier[-1])).records:
            previous.apply(record.ev, record.ts)
        return _open_positions(previous)

    def _start_day(self, day: str, carried: list[Position], now: int) -> None:
        self.emit(JournalOpened(day=day, mode=self.mode, ts_event=now))
        if carried:
            self.emit(PositionsCarried(positions=carried, ts_event=now))

    def _set_day_end(self, now: int) -> None:
        day = trading_day(now)
        self._day_end_ns = ist_ns(day, 0, 0) + _DAY_NS

    async def maybe_roll(self, now: int) -> None:
        """At the IST date boundary: expire working orders, open the new day's journal."""
        if now < self._day_end_ns:
            return
        self.executor.expire_all(now, "expired at the end of the trading day")
        carried = _open_positions(self.state)
        await self.journal.flush()
        self.journal.close()
        day = trading_day(now).isoformat()
        self.journal.open(day)
        self._start_day(day, carried, now)
        self._set_day_end(now)
        log.info("new trading day %s: journal %s, %d positions carried", day, self.journal.path, len(carried))

    # -- intake -----------------------------------------------------------------------------------

    async def handle_batch(self, batch: list[Submission]) -> None:
        """The ``intents`` subscriber: handle submissions in arrival order."""
        for submission in batch:
            await self.handle(submission)

    async def handle(self, submission: Submission) -> None:
        """Handle one submission; its answer is released once durable.

        The answer to an intent is its first result; the answer to a cancel is the next result of
        the order it names. Either may come later than this call (a live order's acknowledgement).
        """
        now = self.clock.now_ns()
        if now >= self._day_end_ns:
            await self.maybe_roll(now)
        intent = submission.intent
        if isinstance(intent, CancelIntent):
            self._handle_cancel(intent, now, submission.key)
        else:
            self._handle_intent(intent, now, submission.key, submission.square_off)

    def expect_answer(self, intent_id: str, key: str) -> None:
        """Answer the waiter ``key`` with the next result emitted for ``intent_id``."""
        self._pending_answers.setdefault(intent_id, []).append(key)

    def _answer_with(self, result: ExecutionResult, key: str) -> None:
        seq = self._first_seq.get(result.intent_id, -1)
        self._answers.append((seq, key, result))
        if seq <= self.journal.durable_seq:
            self._release_now()

    def _release_now(self) -> None:
        answers = self._answers
        durable = self.journal.durable_seq
        kept: deque[tuple[int, str, ExecutionResult]] = deque()
        while answers:
            seq, key, result = answers.popleft()
            if seq <= durable:
                for fut in self._waiters.pop(key, ()):
                    if not fut.done():
                        fut.set_result(result)
            else:
                kept.append((seq, key, result))
        self._answers = kept

    def _handle_intent(self, intent: OrderIntent, now: int, key: str, square_off: bool = False) -> None:
        state = self.state
        if intent.intent_id and intent.intent_id in state.first_results:
            self._answer_with(state.first_results[intent.intent_id], key)
            return
        try:
            intent = validate_intent(
                intent,
                now_ns=now,
                default_exchange=self.config.execution.default_exchange,
                default_tick_size=self.config.market.default_tick_size,
                lookup=self.instruments.by_key,
                make_id=self.make_intent_id,
            )
        except IntentValidationError as exc:
            self._reject_invalid(intent, exc, now, key)
            return
        self.expect_answer(intent.intent_id, key)
        self.emit(intent)
        symbol = intent.symbol
        position = state.position(intent.strategy_code, symbol, intent.product)
        reducing = is_reducing(
            intent.side,
            intent.qty,
            position.net_qty if position is not None else 0,
            state.working_qty(intent.strategy_code, symbol, intent.product, intent.side),
        )
        ref_price = intent.price or intent.trigger_price or self.executor.last_price(symbol)
        view = state.breakers.view(intent.strategy_code, now, state.symbol_net_qty(symbol))
        if square_off and reducing and view.halted_reason is not None:
            view = msgspec.structs.replace(view, halted_reason=None)
        denial = check_order(
            strategy_code=intent.strategy_code,
            side=intent.side,
            qty=intent.qty,
            reducing=reducing,
            ref_price=ref_price,
            view=view,
            limits=self.limits,
        )
        if denial is None and self.calendar is not None:
            allowed, why = self.calendar.may_place(intent.exchange or "NSE", now, variety=intent.variety)
            if not allowed:
                log.info("intent %s refused: %s", intent.intent_id, why)
                self.emit(_rejected(intent, "session", why, now, self.executor.result_mode))
                return
        if denial is not None:
            if denial.trips:
                log.warning("breaker tripped on intent %s: %s", intent.intent_id, denial.message)
            else:
                log.info("intent %s refused: %s", intent.intent_id, denial.message)
            if denial.trips:
                self.emit(
                    BreakerTripped(
                        breaker=denial.breaker,
                        message=denial.message,
                        value=float(denial.value),
                        limit=float(denial.limit),
                        strategy_code=intent.strategy_code,
                        intent_id=intent.intent_id,
                        latched=denial.latch,
                        ts_event=now,
                    )
                )
            self.emit(
                _rejected(intent, f"breaker:{denial.breaker}", denial.message, now, self.executor.result_mode)
            )
            return
        order_id = f"{state.day.replace('-', '')}P{len(state.orders) + 1:07d}"
        self.executor.place(intent, order_id, reducing, now)

    def _reject_invalid(self, intent: OrderIntent, exc: IntentValidationError, now: int, key: str) -> None:
        safe = salvage_identity(intent, self.make_intent_id, now)
        if safe.intent_id in self.state.first_results:
            self._answer_with(self.state.first_results[safe.intent_id], key)
            return
        log.warning("intent %s invalid: %s", safe.intent_id, exc)
        self.expect_answer(safe.intent_id, key)
        self.emit(safe)
        result = _rejected(safe, "validation", str(exc), now, self.executor.result_mode)
        result = msgspec.structs.replace(result, raw={"errors": [e.to_dict() for e in exc.errors]})
        self.emit(result)

    def _handle_cancel(self, cancel: CancelIntent, now: int, key: str) -> None:
        state = self.state
        order_id = cancel.order_id
        if not order_id and cancel.intent_id:
            order_id = next(
                (oid for oid, r in state.orders.items() if r.order.intent_id == cancel.intent_id), ""
            )
        record = state.order(order_id)
        if record is None:
            result = ExecutionResult(
                intent_id=cancel.intent_id or order_id,
                strategy_code=cancel.strategy_code,
                status="REJECTED",
                symbol="",
                side="",
                qty=0,
                order_id=order_id or None,
                message=f"order_id={order_id or cancel.order_id!r}: unknown order",
                reject_reason="unknown_order",
                timestamp=iso_ist(now),
                ts_event=now,
                mode=self.executor.result_mode,
            )
            self.emit(cancel)
            self.expect_answer(result.intent_id, key)
            self.emit(result)
            return
        self.emit(cancel)
        if not record.working:
            latest = state.latest_results[record.order.intent_id]
            note = f"not cancellable: the order is {latest.status}"
            self._answer_with(msgspec.structs.replace(latest, message=note), key)
            return
        self.expect_answer(record.order.intent_id, key)
        self.executor.cancel(record.order.order_id, cancel.reason, now)

    # -- ticks and operator actions ---------------------------------------------------------------

    def on_tick(self, tick: Tick, now: int) -> None:
        """Feed a tick to the executor (fills of resting orders are emitted on the spot)."""
        self.executor.on_tick(tick, now)

    def halt(self, reason: str, by: str) -> None:
        """Halt trading: only cancels pass from now on."""
        self.emit(TradingHalted(reason=reason, by=by, ts_event=self.clock.now_ns()))
        log.warning("trading halted by %s: %s", by, reason)

    def resume(self, reason: str, by: str) -> None:
        """Lift a halt."""
        self.emit(TradingResumed(reason=reason, by=by, ts_event=self.clock.now_ns()))
        log.warning("trading resumed by %s: %s", by, reason)

    def change_limits(self, limits: CircuitBreakerConfig, reason: str, by: str) -> None:
        """Replace the breaker limits (journaled with the new values)."""
        self.limits = limits
        self.emit(
            LimitsChanged(
                limits=msgspec.structs.asdict(limits), reason=reason, by=by, ts_event=self.clock.now_ns()
            )
        )
        log.warning("breaker limits changed by %s: %s", by, reason)

    def reset_breakers(self, reason: str, by: str) -> None:
        """Clear latched breakers."""
        self.emit(BreakersReset(reason=reason, by=by, ts_event=self.clock.now_ns()))
        log.warning("breakers reset by %s: %s", by, reason)


def _rejected(intent: OrderIntent, reason: str, message: str, now: int, mode: str) -> ExecutionResult:
    return ExecutionResult(
        intent_id=intent.intent_id,
        strategy_code=intent.strategy_code,
        status="REJECTED",
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        message=message,
        reject_reason=reason,
        timestamp=iso_ist(now),
        ts_event=now,
        mode=mode,
    )


def _open_positions(state: ServiceState) -> list[Position]:
    return [
        Position(
            strategy_code=p.strategy_code,
            symbol=p.symbol,
            product=p.product,
            net_qty=p.net_qty,
            avg_price=p.avg_price,
        )
        for p in state.positions.values()
        if p.net_qty != 0
    ]
