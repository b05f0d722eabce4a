"""The simulator's shared state, composed: book, faults, limits, stats, WebSocket hub, postbacks.

:class:`SimCore` is what the HTTP handlers and :class:`~execsvc.sim.KiteSimulator` share (through
a typed aiohttp app key). It owns no task and no socket; delivering an order update only queues
it (WebSocket queues, postback queue), so every method here is synchronous.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from aiohttp import web

from execsvc.calendar import MarketCalendar
from execsvc.clock import Clock, LiveClock, trading_day
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.sim import day_end
from execsvc.sim.book import ExchangeBook, Update
from execsvc.sim.config import DEFAULT_INSTRUMENTS, SimConfig
from execsvc.sim.envelope import ApiError
from execsvc.sim.faults import FaultSpec, FaultState
from execsvc.sim.feed import TickFeed
from execsvc.sim.freeze import load_freeze_quantities
from execsvc.sim.holdings import HoldingBook
from execsvc.sim.limits import RateLimiter, SimStats
from execsvc.sim.postbacks import PostbackSender
from execsvc.sim.session import load_session_gate
from execsvc.sim.ws import WsHub

__all__ = ["CORE", "SimCore", "load_instruments"]


def load_instruments(config: SimConfig, instruments: Instruments | None) -> Instruments:
    """The instruments given, else ``config.instruments_file``, else the repo's sample dump, else none.

    Raises:
        ConfigError: the instruments file cannot be read.
    """
    if instruments is not None:
        return instruments
    if config.instruments_file:
        return Instruments.from_csv(config.instruments_file)
    if DEFAULT_INSTRUMENTS.exists():
        return Instruments.from_csv(DEFAULT_INSTRUMENTS)
    return Instruments()


class SimCore:
    """See the module docstring.

    Args:
        config: the settings.
        clock: the source of every timestamp and rate-limit window; a clock with ``advance_to``
            (a :class:`~execsvc.clock.ReplayClock`) is moved forward by each tick's ``ts_event``.
        instruments: reference data (see :func:`load_instruments`).
        calendar: the session calendar to keep (default: ``config.session``'s when
            ``config.session_calendar`` is on, else none); it reads the same clock.

    Raises:
        ConfigError: the session calendar's holidays file is missing or bad.
    """

    def __init__(
        self,
        config: SimConfig,
        clock: Clock | None,
        instruments: Instruments,
        calendar: MarketCalendar | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or LiveClock()
        self.stats = SimStats()
        self.faults = FaultState()
        self.limiter = RateLimiter(config.rate_limits)
        self.session = load_session_gate(config, calendar, instruments)
        self.book = ExchangeBook(
            config, instruments, id_seed=self.clock.now_ns() // 1_000_000, session=self.session
        )
        self.holdings = HoldingBook()
        self.freeze = load_freeze_quantities(config)
        self.day = trading_day(self.clock.now_ns())
        # until then no order can expire: the tick path pays one comparison (``roll_day``)
        self.day_end_ns = day_end.next_end_ns(self.session.calendar, self.clock.now_ns())
        self.hub = WsHub(
            self.stats,
            self.latest_by_token,
            max_per_key=config.ws_max_connections,
            queue_size=config.ws_queue_size,
            heartbeat_seconds=config.heartbeat_seconds,
            on_change=self.notify_changed,
            now_ns=self.clock.now_ns,
        )
        self.postbacks = (
            PostbackSender(
                config.postback_url, self.stats, config.postback_queue_size, on_done=self.notify_changed
            )
            if config.postback_url
            else None
        )
        self.feed: TickFeed | None = None
        self.faults_changed = asyncio.Event()
        self._change_waiters: list[asyncio.Future[None]] = []
        # connections whose request a latency fault holds: aiohttp leaves a request's handler
        # running after its client went away, and such a connection is no longer one the server
        # shuts down, so the simulator ends these itself when it stops
        self.held: set[asyncio.Task[None]] = set()
        self.tokens: set[str] = set()
        if config.require_access_token:
            self.tokens.add(config.require_access_token)
        # Kite's session ends on logout (API or Kite web) and at 6 AM: a token seen working can
        # be revoked at runtime (``revoke_tokens``) and is refused from then on, REST and WebSocket
        self.seen_tokens: set[str] = set()
        self.revoked: set[str] = set()

    async def changed(self) -> None:
        """Wait for the next API request to be counted or answered (tests re-check their condition)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(waiter)
        await waiter

    def notify_changed(self) -> None:
        """Wake everyone in :meth:`changed`."""
        waiters, self._change_waiters = self._change_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def now_ns(self) -> int:
        """The sim clock."""
        return self.clock.now_ns()

    def roll_day(self) -> None:
        """End the exchange's day if the clock has passed a close or the IST date line.

        Orders still working at the exchange expire (:mod:`execsvc.sim.day_end`: at their
        exchange's close with the session calendar, at the date line in any case), their updates
        sent as any cancel's. At the date line, the boundary of a Kite account, the closing day's
        CNC positions then move into the holdings (:mod:`execsvc.sim.holdings`; T1 stock is
        delivered on a settlement day: with the calendar not on an exchange holiday, without it
        on any weekday) and its finished orders and their trades leave the order book (Kite's is
        a day's); an AMO waiting for the open stays. Other positions stay as they were (the
        simulator neither squares MIS off nor marks NRML as overnight). Called before every API
        request and tick, so whatever reads the account sees the new day; a live clock's timer
        calls it too (``KiteSimulator``), so the updates go out at the close without traffic.
        """
        now = self.clock.now_ns()
        if now < self.day_end_ns:
            return
        calendar = self.session.calendar
        day = trading_day(now)
        crossed = day > self.day
        ended = day_end.expiring(self.book, calendar, now, date_line=crossed)
        self.dispatch(day_end.expire(self.book, ended, now))
        self.day_end_ns = day_end.next_end_ns(calendar, now)
        if not crossed:
            return
        self.book.end_day()
        while self.day < day:  # one boundary per day crossed: T1 stock is delivered on its day
            self.day += dt.timedelta(days=1)
            self.holdings.end_day(self.book.positions, trading_day=day_end.settles(calendar, self.day))
            if not self.holdings.rows:  # nothing left to deliver: the days between change nothing
                self.day = day

    # -- market -------------------------------------------------------------------------------------

    def latest_by_token(self, token: int) -> Tick | None:
        """The latest tick of an instrument token."""
        return self.book.market.by_token(token)

    def push_tick(self, tick: Tick) -> Tick:
        """Feed one tick: market state, matching, WebSocket subscribers, order updates.

        Returns:
            The tick as stored and broadcast (symbol and token both set).
        """
        advance = getattr(self.clock, "advance_to", None)
        if advance is not None and tick.ts_event:
            advance(tick.ts_event)
        self.roll_day()
        tick, updates = self.book.on_tick(tick, self.now_ns())
        self.hub.broadcast_tick(tick)
        self.dispatch(updates)
        return tick

    # -- orders -------------------------------------------------------------------------------------

    def dispatch(self, updates: list[Update]) -> None:
        """Deliver order updates: to every WebSocket (all the user's), and as postbacks."""
        for update in updates:
            self.hub.order_update(update.payload)
            if self.postbacks is not None:
                self.postbacks.submit(update.status, update.payload)

    # -- auth ---------------------------------------------------------------------------------------

    def check_auth(self, api_key: str | None, access_token: str | None) -> ApiError | None:
        """None when the credentials are acceptable, else the 403 ``TokenException``."""
        if not api_key or not access_token:
            return ApiError.token()
        required = self.config.require_api_key
        if required is not None and api_key != required:
            return ApiError.token()
        if self.config.require_access_token is not None and access_token not in self.tokens:
            return ApiError.token()
        if access_token in self.revoked:
            return ApiError.token()
        self.seen_tokens.add(access_token)
        return None

    def revoke_tokens(self, tokens: list[str] | None = None) -> int:
        """End API sessions as a Kite web logout or the 6 AM expiry does: every token seen so far
        (``tokens`` None) or the ones given is refused from now on with a 403 ``TokenException``,
        and the WebSockets opened with them are cut. Any other token still works (a new login).

        Returns:
            How many tokens were revoked.
        """
        ended = (self.seen_tokens | self.tokens) if tokens is None else set(tokens)
        ended.discard("")
        self.revoked |= ended
        self.tokens -= ended
        self.stats.sessions_revoked += len(ended)
        self.hub.drop_tokens(ended)
        return len(ended)

    def issue_token(self) -> str:
        """A new access token (accepted from now on)."""
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return token

    # -- admin --------------------------------------------------------------------------------------

    def set_faults(self, spec: FaultSpec) -> None:
        """Replace the faults in force; ``ws_disconnect.now`` cuts every WebSocket at once."""
        self.faults.set(spec)
        if spec.ws_disconnect is not None and spec.ws_disconnect.now:
            self.hub.drop_all()
        self.faults_changed.set()

    def reset(self) -> None:
        """Forget orders, trades, positions, holdings, stats, rate windows and faults; keep the market."""
        self.book.reset()
        self.holdings = HoldingBook()
        self.stats.reset()
        self.stats.ws_open = self.stats.ws_open_peak = len(self.hub.connections)  # still open
        self.limiter = RateLimiter(self.config.rate_limits)
        self.set_faults(FaultSpec())

    def orders(self) -> list[dict[str, Any]]:
        """Every order, as ``GET /orders`` shows it."""
        return [order.to_dict() for order in self.book.orders.values()]


CORE = web.AppKey("kite_sim_core", SimCore)
"""The app key under which handlers find the shared :class:`SimCore`."""
