"""``KiteSimulator``: a loopback Kite Connect server (REST + WebSocket) for tests and drills.

Usage::

    async with KiteSimulator(heartbeat_seconds=0.1) as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", last_price=1500.0))
        kite = KiteConnect(api_key="k", access_token="t", root=sim.url)
        order_id = await asyncio.to_thread(kite.place_order, ...)

Resource handling:
    ``start()`` binds the port (0 picks a free one, read back into ``.port``), then starts the
    background tasks (WebSocket-disconnect fault timer, postback sender, tick-file feed, and on a
    clock that waits, the wall clock, the timer of the day's end: ``SimCore.roll_day``); the
    postback sender reports readiness before ``start()`` returns. ``stop()`` cuts intake first
    (closes WebSockets, stops the HTTP server, waiting briefly for in-flight requests, and ends
    requests a latency fault still holds for clients that went away), then cancels and awaits
    every background task, then closes the tick file. ``stop()`` is idempotent.

Error handling:
    Configuration errors raise from the constructor or ``set_faults``:
    :class:`~execsvc.errors.ConfigError` (instruments, holidays or faults file, bad fault spec) or
    :class:`~execsvc.errors.TickDataError` (a tick file of unknown format). A background task that
    fails (a tick file gone bad mid-stream) has its error logged when the simulator stops. A port in use
    raises ``OSError`` from ``start()``. Errors inside request handlers become Kite error
    envelopes and never stop the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import msgspec
from aiohttp import web

from execsvc.aio import first_of
from execsvc.calendar import MarketCalendar
from execsvc.clock import Clock
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.sim.config import SimConfig
from execsvc.sim.core import SimCore, load_instruments
from execsvc.sim.faults import FaultSpec, decode_faults, load_faults
from execsvc.sim.feed import TickFeed
from execsvc.sim.kite_server import build_app

__all__ = ["KiteSimulator", "is_loopback", "serve"]

log = logging.getLogger(__name__)


class KiteSimulator:
    """A Kite Connect simulator; see the module docstring.

    Args:
        config: the settings; keyword ``options`` override its fields (or build one from defaults),
            e.g. ``KiteSimulator(require_access_token="t", heartbeat_seconds=0.05)``.
        clock: every timestamp, rate-limit window and session-calendar decision reads it (default:
            the wall clock); a :class:`~execsvc.clock.ReplayClock` follows the ticks' ``ts_event``.
        instruments: reference data (default: ``config.instruments_file`` or the repo sample).
        calendar: a session calendar to keep (:mod:`execsvc.sim.session`), e.g. one with test
            holidays; default: ``config.session``'s when ``config.session_calendar`` is on, else none.
        faults: faults in force from the start (a :class:`FaultSpec` or its JSON-shaped mapping).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        clock: Clock | None = None,
        instruments: Instruments | None = None,
        faults: FaultSpec | Mapping[str, Any] | None = None,
        calendar: MarketCalendar | None = None,
        **options: Any,
    ) -> None:
        config = config or SimConfig()
        if options:
            config = dataclasses.replace(config, **options)
        self.config = config
        self.core = SimCore(config, clock, load_instruments(config, instruments), calendar)
        if config.ticks_file:
            self.core.feed = TickFeed(
                config.ticks_file, self.core.book.market.instruments, self.push_tick, config.speed
            )
        if faults is not None:
            self.set_faults(faults)
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST root, e.g. ``http://127.0.0.1:54321`` (give it to ``KiteConnect(root=...)``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket root, e.g. ``ws://127.0.0.1:54321/`` (add ``?api_key=..&access_token=..``)."""
        return f"ws://{self.host}:{self.port}/"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and serve; ``port=0`` picks a free port (see ``.port``).

        Raises:
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("KiteSimulator already started")
        runner = web.AppRunner(
            build_app(self.core), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        if not is_loopback(host):  # allowed (a desk's LAN), but it is an open door: say so
            unchecked = [
                name
                for name, required in (
                    ("api_key", self.config.require_api_key),
                    ("access token", self.config.require_access_token),
                )
                if required is None
            ]
            log.warning(
                "kite-sim bound to %r, not a loopback address: other machines can reach it%s",
                host,
                f", and it takes any {' and '.join(unchecked)}" if unchecked else "",
            )
        try:
            await self._start_tasks()
        except BaseException:
            await self.stop()
            raise
        log.info("kite-sim listening on %s (WebSocket %s)", self.url, self.ws_url)

    async def _start_tasks(self) -> None:
        core = self.core
        self._tasks.append(asyncio.create_task(self._ws_disconnector(), name="kite-sim-ws-disconnect"))
        if core.postbacks is not None:
            started = asyncio.Event()
            task = asyncio.create_task(core.postbacks.run(started), name="kite-sim-postbacks")
            self._tasks.append(task)
            # shielded: the sender runs on once started; if it could not start, its error is raised
            await first_of(asyncio.shield(task), started.wait())
        if core.feed is not None and core.feed.speed > 0:
            self._tasks.append(asyncio.create_task(core.feed.run(), name="kite-sim-feed"))
        sleep_until = getattr(core.clock, "sleep_until", None)
        if sleep_until is not None:  # a clock that ticks do not move (the wall clock) needs a timer
            self._tasks.append(asyncio.create_task(self._day_ender(sleep_until), name="kite-sim-day-end"))

    async def stop(self) -> None:
        """Close WebSockets, stop the server, then cancel and await the background tasks."""
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await self.core.hub.close_all()
                await runner.cleanup()
            held = list(self.core.held)  # requests of clients that went away: nobody else ends them
            for task in held:
                task.cancel()
            if held:
                await asyncio.wait(held)
        finally:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    log.error("kite-sim: task %s failed", task.get_name(), exc_info=task.exception())
            if self.core.feed is not None:
                self.core.feed.close()

    async def __aenter__(self) -> KiteSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _ws_disconnector(self) -> None:
        """Cut every WebSocket each ``ws_disconnect.every_seconds``; re-reads the faults on change."""
        core = self.core
        while True:
            spec = core.faults.spec.ws_disconnect
            every = spec.every_seconds if spec is not None else None
            try:
                async with asyncio.timeout(every):
                    await core.faults_changed.wait()
                core.faults_changed.clear()
            except TimeoutError:
                core.hub.drop_all()

    async def _day_ender(self, sleep_until: Callable[[int], Awaitable[None]]) -> None:
        """End the day's orders at each close and date line of a waiting clock (``roll_day``), so
        their updates go out then, not with the next request or tick."""
        core = self.core
        while True:
            await sleep_until(core.day_end_ns)
            core.roll_day()
            core.notify_changed()

    # -- test API -----------------------------------------------------------------------------------

    def push_tick(self, tick: Tick) -> Tick:
        """Feed one tick now (market state, matching, WebSocket subscribers, order updates).

        A tick may name its instrument by ``symbol`` (``EXCHANGE:TRADINGSYMBOL``), by
        ``instrument_token``, or both; an unknown symbol becomes tradable with a synthetic token.

        Returns:
            The tick as stored and broadcast (symbol and token both set).
        """
        return self.core.push_tick(tick)

    def step(self, count: int = 1) -> int:
        """Push the tick file's next ``count`` ticks (for ``speed=0``); returns how many were pushed."""
        return self.core.feed.step(count) if self.core.feed is not None else 0

    def set_faults(self, spec: FaultSpec | Mapping[str, Any] | None = None, **kinds: Any) -> None:
        """Replace the faults in force (see :mod:`execsvc.sim.faults` for the shapes).

        Examples: ``set_faults(http_429={"count": 2})``, ``set_faults({"reject_next": {"count": 1}})``,
        ``set_faults()`` clears every fault.

        Raises:
            ConfigError: an unknown fault or a bad value.
        """
        base = _builtins(spec) if isinstance(spec, FaultSpec) else dict(spec or {})
        self.core.set_faults(decode_faults({**base, **kinds}))

    def disconnect_websockets(self) -> int:
        """Cut every WebSocket connection now; returns how many there were."""
        return self.core.hub.drop_all()

    def revoke_session(self, tokens: list[str] | None = None) -> int:
        """End API sessions now, as a Kite web logout or the 6 AM expiry does: every access token
        seen so far (None) or those given gets HTTP 403 ``TokenException`` from now on, and their
        WebSockets are cut; a new token (a new login) works. Returns how many were revoked."""
        return self.core.revoke_tokens(tokens)

    def stats(self) -> dict[str, Any]:
        """What ``GET /_admin/stats`` serves (request and 429 counts, max orders in any 1 s, ...)."""
        return self.core.stats.to_dict()

    def orders(self) -> list[dict[str, Any]]:
        """Every order as ``GET /orders`` shows it (tags included)."""
        return self.core.orders()

    def reset(self) -> None:
        """Forget orders, trades, positions, stats, rate windows and faults (the market stays)."""
        self.core.reset()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds, checked now, after every API request it serves and
        after every postback it sends.

        For tests and drills: await it under a timeout (``asyncio.wait_for``) as a hang guard.
        """
        while not condition():
            await self.core.changed()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the simulator on this machine: a loopback IP or
    ``localhost``; any other name or address (``0.0.0.0``, ``""``, a LAN address) may be reached."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _builtins(spec: FaultSpec) -> dict[str, Any]:
    data = msgspec.to_builtins(spec)
    assert isinstance(data, dict)
    return data


async def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    ticks: str | None = None,
    faults: str | None = None,
    speed: float = 1.0,
    multipliers: dict[str, float] | None = None,
    freeze_quantities: dict[str, int | None] | None = None,
    session_calendar: bool = False,
    holidays_file: str | None = None,
) -> None:
    """Run a simulator until cancelled (the ``execsvc kite-sim`` command).

    Args:
        host: the address to bind.
        port: the port (0 picks one; it is logged).
        ticks: a tick file to stream.
        faults: a faults file (YAML or JSON).
        speed: tick-file speed (0: only ``POST /_admin/step`` moves it).
        multipliers: contract multipliers (``SimConfig.multipliers``).
        freeze_quantities: rows over the bundled freeze table (``SimConfig.freeze_quantities``).
        session_calendar: keep the session calendar (``SimConfig.session_calendar``) on the wall clock.
        holidays_file: its holidays (default: the bundled ``configs/holidays-2026.yaml``).

    Raises:
        ConfigError: a bad faults file, or a missing or bad holidays file.
        TickDataError: a ticks file that does not open (a bad tick later ends the stream).
        OSError: the address cannot be bound.
    """
    spec = load_faults(faults) if faults else None
    config = SimConfig(
        ticks_file=ticks,
        speed=speed,
        multipliers=multipliers or {},
        freeze_quantities=freeze_quantities or {},
        session_calendar=session_calendar,
    )
    if holidays_file is not None:
        config = dataclasses.replace(
            config, session=msgspec.structs.replace(config.session, holidays_file=holidays_file)
        )
    sim = KiteSimulator(config, faults=spec)
    await sim.start(host, port)
    hours = "session calendar on the IST wall clock" if sim.core.session.calendar else "trades at any hour"
    print(f"kite-sim: REST {sim.url}  WebSocket {sim.ws_url}  ({hours})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
