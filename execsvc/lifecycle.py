"""Start-up and shut-down of an :class:`~execsvc.service.ExecutionService`: its task group and order.

This holds the task group that owns every background task of a service, and the order in which
the service's parts open and close. It lives apart from the service's API (intents in, results
out, operator actions) because that order is what must not drift: the NATS lease is held before
the journal is folded, the live executor is installed before the engine opens, and live orders
are reconciled with the broker before any intake; on the way out intake stops first, live orders
settle, everything is made durable and delivered, and the journal closes last.

Resource handling: one :class:`asyncio.TaskGroup` owns every task. ``background`` tasks (lease,
journal writer, results publisher, order poller, Kite WebSocket, session-close timer) live as long
as the service; ``inflight`` tasks carry live orders to the broker. :meth:`Lifecycle.close` cancels
and awaits both sets, then closes the bus, fails the callers still waiting for an answer
(``ServiceNotRunningError``), and closes the task group, the Kite client and the journal, in that
order. A stop closes the Kite WebSocket once live orders have settled (their updates come on it).
Error handling: a background task that fails (a journal that cannot write) cancels the group, and
its error surfaces from :meth:`Lifecycle.close`, so from ``stop``/``kill``/``__aexit__``; nothing
is swallowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from execsvc.bus.nats import NatsBus
from execsvc.close_timer import CloseTimer, wants_close_timer
from execsvc.day_rollover import settle_live_intents
from execsvc.engine import INTENTS_TOPIC
from execsvc.errors import ServiceError, ServiceNotRunningError, ValidationError
from execsvc.executors.kite.mapping import KiteOrder, parse_order, tag_for
from execsvc.executors.kite.order_state import modifications_made
from execsvc.executors.kite.postback import Postback
from execsvc.executors.kite.reconcile import apply_postback, poll_forever, reconcile
from execsvc.executors.kite.relogin import Reconcile, hand_over, watch_session
from execsvc.executors.kite.wiring import build_live
from execsvc.kite_feed import KiteFeed

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

# the service's own start and stop lines: operators read them as the service's, not a helper's
log = logging.getLogger("execsvc.service")

ORDER_UPDATES_TOPIC = "order_updates"


class Lifecycle:
    """Opens, drains and closes one service's parts, and owns the task group behind them.

    Args:
        svc: the service whose bus, journal, engine and (live) executor this opens and closes;
            live mode sets its ``kite_client``, ``live`` and ``reconciliation``.
    """

    def __init__(self, svc: ExecutionService) -> None:
        self._svc = svc
        self.group: asyncio.TaskGroup | None = None
        self.background: set[asyncio.Task[None]] = set()
        self.inflight: set[asyncio.Task[None]] = set()
        self.closed = False
        self.draining = False  # a stop has begun: the WebSocket's ticks reach nobody any more
        self.drained = False  # a stop delivered everything before closing (a kill does not)
        self._stopping: asyncio.Task[None] | None = None  # a stop asked for by a task of ours
        self._closing: asyncio.Task[None] | None = None
        self._reconcile_again: Reconcile | None = None  # live with a Kite client: after a new token
        self.feed = KiteFeed(svc, self)  # the service's one Kite WebSocket
        self._close_timer: CloseTimer | None = None  # paper and dry-run on a clock that moves by itself

    @property
    def running(self) -> bool:
        """Whether the service is started and not yet closed (still true while a stop drains)."""
        return self.group is not None and not self.closed

    async def open(self, *, access_token: str | None, on_lease_lost: Callable[[str], None]) -> None:
        """Open the task group, then the lease, the live executor, the engine, the writer and the bus.

        Live mode then reconciles with the broker and starts the order poller; the NATS intake starts
        last. Whatever fails on the way is closed again (:meth:`close`) before the error propagates.

        Args:
            access_token: the Kite access token for live mode (None: the environment or token file).
            on_lease_lost: called with the reason when another instance may own the account now.

        Raises:
            ServiceError: the service was started before (it runs, or ran and stopped).
            JournalError: the journal is corrupt (not merely torn).
            BrokerError: live mode could not log in or reconcile with the broker.
        """
        if self.group is not None:  # a second open would reopen the journal and close this one
            raise ServiceError("start on a service that was started already (make a new one to restart)")
        svc = self._svc
        group = asyncio.TaskGroup()
        await group.__aenter__()
        self.group = group
        try:
            bus = svc.bus
            if isinstance(bus, NatsBus):
                await bus.connect()
                assert bus.lease is not None
                await bus.lease.acquire()  # a standby waits here; then it folds the latest journal
                svc.journal.guard = bus.lease.valid
                bus.durable = self._durable_and_published
                self.spawn(bus.lease.hold(on_lease_lost), "lease", self.background)
            if svc.mode == "live":
                await self._build_live(access_token)
            svc.engine.open()
            svc.bus.subscribe(
                INTENTS_TOPIC, svc.engine.handle_batch, name="engine", batch=True, overflow="block"
            )
            self.spawn(svc.journal.run(), "journal-writer", self.background)
            self.spawn(svc.engine.answers.publisher(), "results-publisher", self.background)
            svc.bus.start(group)
            # paper: a day whose date line passed while the service was down is rolled over now,
            # before any intake, as it would have been at the line (``execsvc.last_day``)
            await svc.engine.maybe_roll(svc.clock.now_ns())
            if svc.live is not None:  # restarted mid-day: the day's placements still count at Kite,
                svc.limiter.restore_day(svc.engine.state.orders_accepted_today())
                svc.limiter.restore_modifications(modifications_made(svc.engine.state))  # and changes
            if svc.live is not None and svc.kite_client is not None:
                engine = svc.engine
                svc.reconciliation = await reconcile(
                    svc.live,
                    halt=lambda why: engine.halt(why, "reconcile"),
                    intents={tag_for(i.intent_id): i for i in engine.unanswered_intents},
                )
                settle_live_intents(engine, svc.clock.now_ns())
                await svc.journal.flush()
                self.spawn(poll_forever(svc.live), "order-poller", self.background)
                # a new token after the session expired: the same reconciliation, intake kept shut
                halt = partial(engine.halt, by="reconcile")
                again = self._reconcile_again = partial(reconcile, svc.live, halt=halt, running=True)
                self.spawn(watch_session(svc.live, again), "kite-session", self.background)
                if svc.feed.opens_at_start:  # order updates as they come, not at the next poll
                    svc.feed.start()
            if wants_close_timer(svc):  # a live clock: no input may come at the broker's times
                self._close_timer = CloseTimer(svc)
                self.spawn(self._close_timer.run(), "session-close-timer", self.background)
            if isinstance(bus, NatsBus):
                bus.start_intake()  # only now: reconciled with the broker before any intake
        except BaseException:
            await self.close()
            raise

    async def hand_over(self, token: str) -> str:
        """``ExecutionService.set_access_token``: see :func:`~execsvc.executors.kite.relogin.hand_over`."""
        svc = self._svc
        if not self.running:
            raise ServiceNotRunningError("set_access_token on a service that is not running")
        if not isinstance(token, str):
            raise ValidationError(f"set_access_token: the token must be a str, not {type(token).__name__}")
        if svc.live is None or svc.kite_client is None or self._reconcile_again is None:
            what = "paper mode" if svc.mode == "paper" else "a dry run"
            raise ServiceError(
                f"set_access_token: {what} sends nothing to Kite and holds no Kite session to hand a "
                "token to (a Kite tick feed of your own takes its token itself)"
            )
        return await hand_over(svc.live, self._reconcile_again, token)

    def spawn(
        self, coro: Coroutine[Any, Any, None], name: str, bucket: set[asyncio.Task[None]]
    ) -> asyncio.Task[None]:
        """Start ``coro`` in the task group and keep it in ``bucket`` until it is done."""
        assert self.group is not None
        task = self.group.create_task(coro, name=name)
        bucket.add(task)
        task.add_done_callback(bucket.discard)
        return task

    async def _durable_and_published(self) -> None:
        await self._svc.journal.flush()
        await self._svc.engine.answers.published()

    async def _build_live(self, access_token: str | None) -> None:
        svc = self._svc
        svc.kite_client, svc.live = await build_live(
            svc,
            access_token=access_token,
            spawn=lambda coro: self.spawn(coro, "live-order", self.inflight),
        )
        svc.bus.subscribe(ORDER_UPDATES_TOPIC, self._apply_update, name="order-updates", overflow="block")

    async def _apply_update(self, data: Any) -> None:
        assert self._svc.live is not None
        if isinstance(data, Postback):  # only its order id is proven: the broker says the rest
            await apply_postback(self._svc.live, data.payload)
            return
        order = data if isinstance(data, KiteOrder) else parse_order(data)
        await self._svc.live.apply_order(order)

    def owns(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether ``task`` is one of the service's own (a bus consumer running a result callback)."""
        return task is not None and (
            task in self.background or task in self.inflight or self._svc.bus.owns(task)
        )

    async def stop(self, settle_timeout: float) -> None:
        """Drain, then close: every queued intent handled, every record durable, every result delivered.

        Called from a task of the service's own (a result callback that stops the service), it
        starts the stop in a task and returns at once: the drain waits for that very callback to
        return. A later call (the runner's ``stop`` or ``__aexit__``) waits for that stop.

        Args:
            settle_timeout: how long live orders on their way to the broker may take to settle.
        """
        self.draining = True
        if self.owns(asyncio.current_task()):
            if self._stopping is None and not self.closed:
                self._stopping = self._own_task(self._stop(settle_timeout), "execsvc-stop")
                # let it take its first step: a task cancelled before that (the runner's loop
                # ending at once) would never reach the close in its ``finally``
                await asyncio.sleep(0)
            return
        if self.closed:  # stopped or killed already, or being killed: wait for that
            await self.close()
        elif self._stopping is None:
            await self._stop(settle_timeout)
        if self._stopping is not None:
            await _wait_for_end(self._stopping, on_cancel=self._begin_close)

    async def _stop(self, settle_timeout: float) -> None:
        svc = self._svc
        try:
            if isinstance(svc.bus, NatsBus):
                await svc.bus.stop_intake()  # nothing new starts while the rest drains
            svc.result_streams.unbound()  # an iterator nobody reads must not hold the drain
            await svc.bus.drain()
            if self.inflight:  # live orders on their way to the broker: let them settle
                await asyncio.wait(set(self.inflight), timeout=settle_timeout)
            await svc.feed.close()  # after the settle, which its order updates helped; the last of
            await svc.bus.drain()  # them are applied here, so that the flush below has their records
            if self._close_timer is not None and not (self.closed or svc.deposed.is_set()):
                await self._close_timer.before_stop()  # a pass it owes, still napping after a suspend
            await svc.journal.flush()
            await svc.engine.answers.published()
            await svc.bus.drain()
            self.drained = not self.closed  # not cut short by a kill meanwhile
            if isinstance(svc.bus, NatsBus) and svc.bus.lease is not None:
                await svc.bus.lease.release()  # a clean stop hands over at once
        finally:
            await self.close()

    async def close(self) -> None:
        """Cancel and await every task, then close the bus, the group, the Kite client and the journal.

        The close runs once, in a task of its own: a second call (a kill during a stop, a stop
        after a kill) waits for it, and a caller cancelled meanwhile does not leave it half done.
        Called from a task of the service's own (a result callback that kills the service), it
        starts the close and returns: that task is one the close cancels and awaits.

        Raises:
            BaseExceptionGroup: a background task had failed (the task group's errors).
        """
        closing = self._begin_close()
        if not self.owns(asyncio.current_task()):
            await _wait_for_end(closing)

    def _begin_close(self) -> asyncio.Task[None]:
        self.closed = True
        if self._closing is None:
            self._closing = self._own_task(self._close(), "execsvc-close")
        return self._closing

    def _own_task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """The stop's or the close's task: outside the task group, whose exit it awaits.

        Whoever calls ``stop``/``kill`` next awaits it; its error is logged here too, since a runner
        whose result callback stopped the service may never call either.
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._own_task_done)
        return task

    def _own_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            unclosed = self._svc.journal.is_open and (self._closing is None or self._closing is task)
            if unclosed:  # cancelled before its first step: nothing else will close it
                self._close_now()
            return
        error = task.exception()
        if error is not None:
            log.error("%s failed", task.get_name(), exc_info=error)

    def _close_now(self) -> None:
        """What a close does that needs no await: the runner's loop is ending (``asyncio.run``
        cancels every task) before the close could run; those tasks are cancelled and awaited there."""
        self.closed = True
        for task in (*self.background, *self.inflight):
            task.cancel()
        self._svc.engine.answers.fail_all("the service stopped")
        self._svc.journal.close()
        log.warning("execsvc closed as its event loop ended: %s", self._svc.journal.path)

    async def _close(self) -> None:
        # Every step runs even if this task is cancelled meanwhile (the runner's loop ending: asyncio.run
        # cancels every task once): the tasks are cancelled anyway, so each step ends soon, and a close
        # left half done would leave the journal open. The cancel is re-raised once closed.
        svc = self._svc
        interrupted: asyncio.CancelledError | None = None
        for task in (*self.background, *self.inflight):
            task.cancel()
        for step in (partial(asyncio.gather, *self.background, *self.inflight, return_exceptions=True),
                     svc.bus.close):  # fmt: skip
            try:
                await step()
            except asyncio.CancelledError as exc:
                interrupted = exc
        # nothing that could answer runs any more: a caller still waiting (a live order cut short
        # by a kill or by the settle timeout) is told so, not left on a future nobody resolves
        svc.engine.answers.fail_all("the service stopped")
        try:
            if self.group is not None:
                try:
                    await self.group.__aexit__(None, None, None)
                except asyncio.CancelledError as exc:  # it waited for its tasks all the same
                    interrupted = exc
        finally:
            if svc.kite_client is not None:
                try:
                    await svc.kite_client.close()
                except asyncio.CancelledError as exc:
                    interrupted = exc
            svc.journal.close()
            log.info("execsvc stopped: %d records in %s", svc.journal.next_seq, svc.journal.path)
        if interrupted is not None:
            raise interrupted


async def _wait_for_end(task: asyncio.Task[None], on_cancel: Callable[[], object] | None = None) -> None:
    """Await ``task``; if the caller is cancelled meanwhile, still wait for ``task`` to end (after
    ``on_cancel``: a stop waited for becomes a close), then re-raise the cancel: a stop or a close
    left running unawaited when the runner's loop ends is destroyed pending, half done."""
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.done():
            raise
        if on_cancel is not None:
            on_cancel()
        await asyncio.wait([task])
        raise
