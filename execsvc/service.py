"""``ExecutionService``: the library API, and (through :mod:`execsvc.lifecycle`) the owner of every task.

    async with ExecutionService(load_config("configs/dev.yaml"), mode="paper") as svc:
        await svc.on_tick(tick)
        result = await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1",
                                                      side="BUY", qty=10))

Resource handling: ``start`` (or ``async with``) opens the journal, folds it, and starts the
journal writer and the bus consumers in one task group; ``stop`` drains (no new intake, every
queued intent handled, every record durable, every result delivered) and closes in reverse order;
``kill`` cancels at once and still leaves a journal that restarts cleanly.
Error handling: a background task that fails (a journal that cannot write) cancels the group and
surfaces from ``stop``/``__aexit__``; nothing is swallowed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path
from types import TracebackType
from typing import Any

from execsvc.bus.memory import MemoryBus, MemorySubscription
from execsvc.bus.nats import NatsBus
from execsvc.calendar import MarketCalendar
from execsvc.clock import Clock, LiveClock, ReplayClock
from execsvc.config import Config, load_config
from execsvc.costs import CostModel
from execsvc.engine import INTENTS_TOPIC, RESULTS_TOPIC, Engine, Submission
from execsvc.errors import ServiceNotRunningError, ValidationError
from execsvc.events import ExecutionResult, OrderIntent, Reconciled
from execsvc.executors.kite.client import KiteRestClient
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.mapping import KiteOrder
from execsvc.executors.kite.postback import Postback
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.intake import checked, keyed
from execsvc.journal.store import JournalWriter
from execsvc.lifecycle import ORDER_UPDATES_TOPIC, Lifecycle
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.reference import load_costs, load_instruments
from execsvc.result_stream import ResultStreams
from execsvc.service_changes import ServiceOrderChanges
from execsvc.service_controls import ServiceControls
from execsvc.sliced import execute_sliced
from execsvc.squareoff import square_off
from execsvc.validation import check_text

log = logging.getLogger("execsvc.service")


class ExecutionService(ServiceControls, ServiceOrderChanges):
    """Intents in, results out: breakers, an executor, a journal and a state store.

    Args:
        config: a :class:`Config` or the path of a YAML config file.
        mode: ``paper`` (default: the config's ``mode``) or ``live``.
        clock: the time source; a :class:`ReplayClock` is advanced by :meth:`on_tick`.
        journal_dir: overrides ``journal.dir``.
        instruments: reference data (default: ``market.instruments_file``).
        costs: the cost model (default: ``charges.rates_file``).
        access_token: the Kite access token for live mode (default: the environment or the token
            file named in ``kite``; see :mod:`execsvc.executors.kite.auth`); a new one is handed
            over to the running service with :meth:`set_access_token`.
        session_calendar: ``True`` keeps the market calendar of ``config.session`` (its hours and
            ``holidays_file``), or pass a :class:`MarketCalendar`: orders outside the session are
            refused (AMOs excepted) and the paper broker squares MIS off at Zerodha's times.
            Default: none, orders at any hour (``session.enforce`` is the daemon's switch).
    """

    def __init__(
        self,
        config: Config | str | Path,
        *,
        mode: str | None = None,
        clock: Clock | None = None,
        journal_dir: str | Path | None = None,
        instruments: Instruments | None = None,
        costs: CostModel | None = None,
        access_token: str | None = None,
        session_calendar: bool | MarketCalendar = False,
    ) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self.mode = mode or self.config.mode
        if self.mode not in ("paper", "live"):
            raise ValidationError(f"mode={self.mode!r}: must be paper or live")
        self._calendar = _chosen_calendar(session_calendar, self.config)  # before anything is built
        self.clock: Clock = clock or LiveClock()
        self._replay_clock = self.clock if isinstance(self.clock, ReplayClock) else None
        self.bus: MemoryBus | NatsBus = MemoryBus(default_maxsize=self.config.bus.queue_size)
        if self.config.bus.backend == "nats":
            self.bus = NatsBus(self.config.bus.nats, inner=self.bus, now_ns=self.clock.now_ns)
        self.deposed = asyncio.Event()
        self.journal = JournalWriter(
            journal_dir or self.config.journal.dir,
            self.config.journal.fsync,
            max_unsynced_bytes=self.config.journal.max_unsynced_bytes,
        )
        self.engine = Engine(
            self.config,
            clock=self.clock,
            journal=self.journal,
            bus=self.bus,
            instruments=instruments if instruments is not None else load_instruments(self.config),
            costs=costs if costs is not None else load_costs(self.config),
            mode=self.mode,
        )
        if self._calendar is not None:
            self.engine.calendar = self._calendar
        self._access_token = access_token
        self.settle_timeout = 10.0
        self._square_offs = 0
        self._changes = itertools.count(1)  # with the time, makes every change's key unique
        self.live: LiveExecutor | None = None
        self.kite_client: KiteRestClient | None = None
        self.limiter = RateLimiter(self.config.kite.rate_limits)
        self.reconciliation: Reconciled | None = None
        self.result_streams = ResultStreams(self.bus)
        self._lifecycle = Lifecycle(self)
        self.feed = self._lifecycle.feed  # Kite's WebSocket (``kite_feed``): order updates, ticks
        self._inflight = self._lifecycle.inflight  # live orders on their way to the broker
        self._accepting = False

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> ExecutionService:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.stop()
        else:
            await self.kill()

    async def start(self) -> None:
        """Open and fold the journal, start the writer and the bus consumers; live: reconcile first.

        Raises:
            ServiceError: started before: a service starts once (make a new one to restart).
            JournalError: the journal is corrupt (not merely torn).
            BrokerError: live mode could not log in or reconcile with the broker.
        """
        await self._lifecycle.open(access_token=self._access_token, on_lease_lost=self._lease_lost)
        self._accepting = True
        log.info("execsvc started: mode=%s journal=%s", self.result_mode, self.journal.path)

    def _lease_lost(self, why: str) -> None:
        # nothing more may be journaled or placed: another instance may own the account now
        log.error("%s: this instance stops executing", why)
        self._accepting = False
        self.deposed.set()

    def bus_status(self) -> dict[str, Any]:
        """The bus backend and, for NATS, the lease holder, consumer lag and redeliveries."""
        return self.bus.status() if isinstance(self.bus, NatsBus) else {"backend": "memory"}

    @property
    def calendar(self) -> MarketCalendar | None:
        """The market calendar the service keeps (``session_calendar``), or None: any hour."""
        return self._calendar

    @property
    def result_mode(self) -> str:
        """``paper``, ``live`` or ``dry-run``."""
        return self.engine.executor.result_mode

    async def order_update(self, data: dict[str, Any] | KiteOrder | Postback) -> None:
        """Queue a broker order update (WebSocket, postback); they are applied in arrival order."""
        await self.bus.publish(ORDER_UPDATES_TOPIC, data)

    async def stop(self) -> None:
        """Drain and close: nothing queued is lost, everything handled is on disk.

        Called again it waits for the first; from a result callback it starts the stop and returns."""
        if self._lifecycle.group is None:
            return
        self._accepting = False
        await self._lifecycle.stop(self.settle_timeout)

    async def kill(self) -> None:
        """Cancel everything now; the journal keeps what was written and restarts cleanly.

        Called again it waits for the close; from a result callback it starts the close and returns
        (the close cancels the task that runs that callback)."""
        if self._lifecycle.group is None:
            return
        self._accepting = False
        await self._lifecycle.close()

    # -- intents ----------------------------------------------------------------------------------

    async def execute_intent(self, intent: OrderIntent, *, raise_on_reject: bool = False) -> ExecutionResult:
        """Submit an intent and wait for its first result (PLACED, FILLED, PARTIAL, CANCELLED, REJECTED).

        The result arrives once its journal record is durable. A second intent with the same
        ``intent_id`` gets the first one's result and changes nothing.

        Raises:
            ServiceNotRunningError: the service is not started or is stopping.
            IntentValidationError: with ``raise_on_reject``, for an invalid intent (journaled all the same).
            IntentRejectedError: with ``raise_on_reject``, for any other rejection.
        """
        if not self._accepting:
            raise ServiceNotRunningError("execute_intent on a service that is not running")
        engine = self.engine
        intent, key = keyed(intent, now_ns=self.clock.now_ns, make_id=engine.make_intent_id)
        done = engine.answered(key)
        if done is not None:
            return checked(done, raise_on_reject)
        return checked(await self._ask(Submission(intent, key)), raise_on_reject)

    async def execute_sliced(
        self,
        intent: OrderIntent,
        *,
        raise_on_reject: bool = False,
        on_send: Callable[[OrderIntent], None] | None = None,
    ) -> list[ExecutionResult]:
        """Execute an F&O intent above its freeze quantity as slices of whole lots; their first results.

        Slices (``<intent_id>.1``, ...) go out one by one; the first REJECTED ends the list, the rest
        unsent: what filled stands and is the caller's to see. Within the limit (or with none) it
        is ``[execute_intent(intent)]``. Leave ``intent_id`` empty and one is made: a retry must pass
        it to be idempotent (it sends only the slices not yet journaled). ``on_send`` is called with
        each intent just before it is submitted (the control API notes it for the latency metric).
        See :mod:`execsvc.sliced`.

        Raises:
            ServiceNotRunningError: the service is not running, or stopped before a slice's answer.
            IntentValidationError: a slice would be invalid where the intent is not, slices of it
                journaled differ from this call's, or the whole order is worth more than
                ``max_order_value_rupees``: nothing is sent. With ``raise_on_reject``, also for an
                intent refused as invalid (journaled all the same), as ``execute_intent`` raises.
            IntentRejectedError: with ``raise_on_reject``, for the slice (or the intent sent
                whole) that was refused otherwise, once its refusal is journaled; what filled before
                it stands.
        """
        if not self._accepting:
            raise ServiceNotRunningError("execute_sliced on a service that is not running")
        return await execute_sliced(self, intent, raise_on_reject=raise_on_reject, on_send=on_send)

    async def submit(self, intent: OrderIntent) -> str:
        """Send an intent without waiting for its result (results arrive through ``on_result``).

        Returns:
            The intent id (generated when the intent has none).
        """
        if not self._accepting:
            raise ServiceNotRunningError("submit on a service that is not running")
        intent, key = keyed(intent, now_ns=self.clock.now_ns, make_id=self.engine.make_intent_id)
        await self.bus.publish(INTENTS_TOPIC, Submission(intent, key))
        return key

    async def _ask(self, submission: Submission) -> ExecutionResult:
        """Publish a submission and wait for its answer.

        Raises:
            ServiceNotRunningError: the service stopped (or was killed) before answering it.
        """
        waiter = self.engine.wait_for(submission.key)
        try:
            await self.bus.publish(INTENTS_TOPIC, submission)
        except BaseException:
            waiter.cancel()
            if not waiter.cancelled():  # already failed by the stop: retrieved here, raised below
                waiter.exception()
            raise
        return await waiter

    async def settle(self) -> None:
        """Wait until everything so far is on disk and every result has reached every subscriber.

        Raises:
            ServiceNotRunningError: killed before or meanwhile (after a stop it returns: all settled).
        """
        await self.journal.flush()
        await self.engine.answers.published()
        await self.bus.drain()
        if self._lifecycle.closed and not self._lifecycle.drained:
            raise ServiceNotRunningError("settle: the service was killed before everything settled")

    async def on_tick(self, tick: Tick) -> None:
        """Feed one tick: market state, resting paper orders. Never suspends unless a day rolls over.

        Raises:
            ServiceNotRunningError: the service has stopped: a resting order filled now would move
                positions that the closed journal never records.
            ValidationError: on a replay clock, ``ts_event`` is not an int (nothing moves).
        """
        if self._lifecycle.closed:
            raise ServiceNotRunningError("on_tick on a service that has stopped")
        now = tick.ts_event
        replay = self._replay_clock
        if replay is not None:
            if type(now) is not int:  # a float (or "09:15") would become every journal record's time
                raise ValidationError(f"tick ts_event={now!r}: must be an int of nanoseconds since the epoch")
            if now > replay._now:
                replay._now = now
            now = replay._now
        else:
            now = self.clock.now_ns()
        engine = self.engine
        if now >= engine._day_end_ns:
            await engine.maybe_roll(now)
        engine.executor.on_tick(tick, now)

    async def set_access_token(self, token: str) -> str:
        """Hand the running live service a new Kite access token; returns the session's state after
        (``valid``, or ``restoring`` while a reconciliation is retried). See ``relogin.hand_over``.

        Raises:
            BrokerAuthError: no token an HTTP header carries, or refused; ServiceError: no Kite session.
        """
        return await self._lifecycle.hand_over(token)

    # -- results ----------------------------------------------------------------------------------

    def on_result(
        self, callback: Callable[[ExecutionResult], Awaitable[None] | None], *, name: str = "user"
    ) -> MemorySubscription:
        """Call ``callback`` with every result (first results and later updates), in order.

        Raises:
            ServiceNotRunningError: the service has stopped (or was killed): none will come.
        """
        if self._lifecycle.closed:
            raise ServiceNotRunningError("on_result on a service that has stopped")
        return self.bus.subscribe(RESULTS_TOPIC, callback, name=name, overflow="block")

    def results(self, *, maxsize: int = 1024) -> AsyncIterator[ExecutionResult]:
        """Every result from this call on, as an async iterator; it ends once the service has stopped.

        A bounded queue (``maxsize``, at least 1) sits behind it: while the service runs, a reader
        that falls behind slows the service down. A stop lifts the bound (an iterator nobody reads
        does not hang it); what was queued before the stop is read first. See ``result_stream``.
        """
        if maxsize < 1:
            raise ValidationError(f"results(maxsize={maxsize!r}): must be at least 1 (the queue is bounded)")
        return self.result_streams.open(maxsize)

    # -- square-off (the other controls: ``service_controls``) ------------------------------------

    async def square_off(
        self, strategy: str | None = None, *, reason: str, by: str = "api", exchanges: Collection[str] = ()
    ) -> list[ExecutionResult]:
        """Get flat in MIS (on ``exchanges`` alone if given): cancel working orders, close positions."""
        if not self._accepting:
            raise ServiceNotRunningError("square_off on a service that is not running")
        check_text("square_off", reason=reason, by=by, **({} if strategy is None else {"strategy": strategy}))
        self._square_offs += 1
        rounds = self._square_offs
        return await square_off(self, strategy, reason=reason, by=by, round_no=rounds, exchanges=exchanges)


def _chosen_calendar(choice: object, config: Config) -> MarketCalendar | None:
    if isinstance(choice, MarketCalendar):
        return choice
    if type(choice) is not bool:  # a truthy string or path would read as True and load the default
        raise ValidationError(f"session_calendar={choice!r}: must be True, False or a MarketCalendar")
    return MarketCalendar.from_config(config.session) if choice else None
