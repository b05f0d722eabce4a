"""The engine: intents in, through validation and breakers, to an executor; events out to the journal.

Everything that changes state goes through :meth:`Engine.emit`, which appends the event to the
journal and folds it into the state in one step, so the state is always the fold of the journal.
A new order's path, from idempotency to the executor, is ``new_orders``; a change's is
``order_changes``.
Results are *released* (to the caller waiting on them and to the bus) only once their record is
durable under the journal's policy.

The engine runs in one consumer task (the bus's ``intents`` subscriber) and in the callers of
:meth:`on_tick`; all state changes are synchronous between awaits, so no locks are needed except
around the day rollover, which awaits the journal.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from execsvc.answers import Answers
from execsvc.bus.base import Bus
from execsvc.calendar import MarketCalendar
from execsvc.clock import Clock
from execsvc.config import CircuitBreakerConfig, Config
from execsvc.costs import CostModel
from execsvc.day_rollover import open_today, roll_over
from execsvc.errors import ServiceError
from execsvc.events import (
    BreakersReset,
    CancelIntent,
    ExecutionResult,
    LimitsChanged,
    ModifyIntent,
    OrderIntent,
    TradingHalted,
    TradingResumed,
)
from execsvc.executors.base import Executor, SessionGate
from execsvc.executors.paper.executor import PaperExecutor
from execsvc.executors.paper.fills import FillModel
from execsvc.intake import fresh_intent_id, same_order
from execsvc.journal.store import JournalWriter
from execsvc.market.auction_months import AuctionMonths
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.new_orders import handle_intent
from execsvc.order_changes import handle_cancel, handle_modify
from execsvc.reference import load_freeze_quantities
from execsvc.state import ServiceState

log = logging.getLogger("execsvc.engine")

RESULTS_TOPIC = "results"
INTENTS_TOPIC = "intents"


class Submission(msgspec.Struct, frozen=True):
    """An intent (or a cancel) on its way to the engine; ``key`` names the caller's waiter.

    ``square_off`` marks the service's own square-off orders: when they only reduce a position they
    pass a halt, the throttles and the order-value cap (getting flat is always allowed; in live mode
    the rate limiter still queues them within Kite's limits); the session calendar still applies.
    They are never aged (``execution.max_intent_age_seconds``): the cancels before them and the
    rate limiter's queue do not make the decision to get flat an old one.
    The mark counts only on an intent this engine made (``Engine.square_off_ids``): over NATS it
    travels as a header that any producer could set.
    """

    intent: OrderIntent | CancelIntent | ModifyIntent
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
        # the futures months the F&O pre-open takes, worked out from the dump's expiries
        self.auction_months = AuctionMonths(instruments)
        self.mode = mode
        self.limits = config.execution.circuit_breakers
        self.freeze = load_freeze_quantities(config)  # validation's table of NFO and BFO order caps
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
            multipliers=config.market.multipliers,
            freeze=self.freeze,
        )
        self.executor: Executor = self.paper
        self.answers = Answers(lambda result: bus.publish(RESULTS_TOPIC, result), lambda: journal.durable_seq)
        listening = getattr(bus, "has_subscribers", None)
        if listening is not None:
            self.answers.has_subscribers = lambda: bool(listening(RESULTS_TOPIC))
        self._ids = itertools.count(1)
        self.square_off_ids: set[str] = set()  # the closing intents of its own square-offs, in flight
        self._day_end_ns = 0
        self._rolling = asyncio.Lock()
        self.result_listener: Callable[[ExecutionResult], None] | None = None
        self._calendar: SessionGate | None = None
        self.unanswered_intents: list[OrderIntent] = []  # live, until reconciliation settles them
        # the first results of the last journaled day: idempotency across the date line
        self.previous_day_results: dict[str, ExecutionResult] = {}
        self.previous_day_unanswered: set[str] = set()  # journaled that day without a result
        # its realized net P&L as it closed (after the paper broker's auto square-off at the date line)
        self.previous_day_realized_net = 0.0
        self.mis_entry_cutoff: Callable[[str, int], str | None] | None = None  # ``squareoff``'s
        journal.on_durable = self.answers.release

    @property
    def calendar(self) -> SessionGate | None:
        """The session calendar orders must fit (None: any hour), also the paper broker's clock for
        its MIS auto square-off (``executors/paper/auto_square_off``)."""
        return self._calendar

    @calendar.setter
    def calendar(self, calendar: SessionGate | None) -> None:
        self._calendar = calendar
        # live, the broker squares off and the paper executor only keeps market state: never here
        simulated = self.paper.result_mode in ("paper", "dry-run")
        self.paper.cutoffs.calendar = calendar if simulated and isinstance(calendar, MarketCalendar) else None
        self.paper.session_closes.recalendared()

    # -- journal + state in one step --------------------------------------------------------------

    def emit(self, event: Any) -> int:
        """Journal an event and fold it into the state; returns its journal ``seq``."""
        ts = self.clock.now_ns()
        seq = self.journal.append(event, ts)
        self.state.apply(event, ts)
        if type(event) is ExecutionResult:
            self.answers.noted(seq, event)
            if self.result_listener is not None:
                try:
                    self.result_listener(event)
                except Exception:  # a strategy's bug must not break the order that reported it
                    log.exception("result listener failed on the result of %s", event.intent_id)
        return seq

    def wait_for(self, key: str) -> asyncio.Future[ExecutionResult]:
        """A future for the answer to the submission ``key``."""
        return self.answers.wait_for(key)

    def answered(self, intent_id: str) -> ExecutionResult | None:
        """The durable first result of an intent already handled, if any (idempotency's fast path)."""
        return self.answers.released_first(intent_id, self.state.first_results.get(intent_id))

    def make_intent_id(self, intent: OrderIntent, ts_init: int) -> str:
        """A fresh intent id (``intake.fresh_intent_id``), never one today's or the last day's holds."""
        journaled, previous = self.state.intent_ids, self.previous_day_results
        return fresh_intent_id(
            intent.strategy_code, ts_init, self._ids, lambda i: i in journaled or i in previous
        )

    # -- start-up and day rollover ----------------------------------------------------------------

    def open(self) -> None:
        """Open today's journal and fold it; carry positions in from the last journaled day if new."""
        open_today(self)

    async def maybe_roll(self, now: int) -> None:
        """At the IST date line: expire working orders, open the new day's journal (see ``day_rollover``)."""
        if now >= self._day_end_ns:
            await roll_over(self, now)

    # -- intake -----------------------------------------------------------------------------------

    async def handle_batch(self, batch: list[Submission]) -> None:
        """The ``intents`` subscriber: handle submissions in arrival order.

        A submission that fails in an unexpected way is logged and its caller told; the rest of the
        batch is handled all the same.
        """
        journal = self.journal
        journal.holding = True  # one commit for the batch, made below (see ``release_held``)
        try:
            for submission in batch:
                try:
                    await self.handle(submission)
                except Exception as exc:
                    log.exception("submission %r could not be handled", submission.key)
                    self.answers.fail(
                        submission.key, ServiceError(f"intent {submission.key!r} not handled: {exc}")
                    )
        except BaseException:
            journal.stop_holding()  # cancelled: the writer task takes what is buffered, if it runs
            raise
        await journal.release_held()
        await journal.wait_for_room()  # a slow disk holds intake back, not memory

    async def handle(self, submission: Submission) -> None:
        """Handle one submission; its answer is released once durable.

        The answer to an intent is its first result; the answer to a cancel is the next result of
        the order it names. Either may come later than this call (a live order's acknowledgement).
        """
        now = self.clock.now_ns()
        if now >= self._day_end_ns:
            await self.maybe_roll(now)
        self.paper.session_closes.catch_up(self.paper, now)  # journal what is held where a session closed
        intent = submission.intent
        if isinstance(intent, CancelIntent):
            handle_cancel(self, intent, now, submission.key)
        elif isinstance(intent, ModifyIntent):
            handle_modify(self, intent, now, submission.key)
        else:
            own = submission.square_off and self._own_square_off(intent.intent_id)
            handle_intent(self, intent, now, submission.key, own)
        if self.answers.republished:
            await self.answers.publish_republished()

    def _own_square_off(self, intent_id: object) -> bool:
        if not isinstance(intent_id, str) or intent_id not in self.square_off_ids:
            log.warning("intent %r came marked as a square-off this service did not make: not one", intent_id)
            return False
        self.square_off_ids.discard(intent_id)
        return True

    def expect_answer(self, intent_id: str, key: str) -> None:
        """Answer the waiter ``key`` with the next result emitted for ``intent_id``."""
        self.answers.expect(intent_id, key)

    def answer_first(self, intent_id: str, key: str, intent: OrderIntent | None = None) -> bool:
        """Idempotency: a journaled intent is answered with its first result, now or when it comes.

        ``intent`` (the repeat) is checked against an answer from the last journaled day: an id that
        names a different order there is a new intent that happens to reuse the id, not a retry.
        """
        state = self.state
        first = state.first_results.get(intent_id)
        if first is not None:
            self.answers.answer_with(first, key, self.answers.first_seq.get(intent_id, -1))
            return True
        if intent_id in state.intent_ids:  # journaled, still in flight (a live order on its way)
            self.answers.expect(intent_id, key)
            return True
        earlier = self.previous_day_results.get(intent_id)
        if earlier is not None and intent is not None:
            if same_order(
                intent, earlier, self.config.execution.default_exchange
            ):  # a retry across the date line: durable there
                self.answers.answer_with(earlier, key, -1)
                return True
            log.warning(
                "intent_id %s named a different order on the last journaled day (%s %s %s x%d): "
                "handled as a new intent",
                intent_id,
                earlier.strategy_code,
                earlier.side,
                earlier.symbol,
                earlier.qty,
            )
        return False

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
