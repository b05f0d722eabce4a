"""Where the daemon's ticks come from, and how its embedded strategies see them.

Two feeds: tick files replayed in order (paper, on the replay clock), or the Kite WebSocket (live
and dry-run, paper on live ticks; also the Kite simulator), which is the service's own
(:mod:`execsvc.kite_feed`: one connection for its order updates and the daemon's ticks), with a
:class:`StrategyHost` that hands each tick, once the service has it, to the strategies, and
submits whatever they asked for.

This is apart from :mod:`execsvc.daemon` because the daemon is about the day's lifecycle (signals,
session close, square-off, drain), and none of that changes what a feed is: opening tick files
and feeding strategies can be read and tested without signals or a task group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from execsvc.aio import first_of
from execsvc.config import Config
from execsvc.errors import ConfigError, ServiceError, ServiceNotRunningError, TickDataError
from execsvc.market.files import read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.service import ExecutionService
from execsvc.strategies.base import StrategyContext, strategy_contexts

log = logging.getLogger("execsvc.feeds")


class StrategyHost:
    """Embedded strategies on a live feed: ticks in, intents submitted without waiting for answers."""

    def __init__(self, svc: ExecutionService, strategies: list[Any]) -> None:
        self.svc = svc
        self.strategies = strategy_contexts(strategies, svc.engine.state.position, svc.clock.now_ns)
        self.by_code: dict[str, list[tuple[Any, StrategyContext]]] = {}
        for strategy, ctx in self.strategies:
            self.by_code.setdefault(ctx.strategy_code, []).append((strategy, ctx))
        if strategies:
            svc.on_result(self.on_result, name="strategies")

    def on_result(self, result: Any) -> None:
        """Route a result to the strategies that share its strategy code."""
        for strategy, ctx in self.by_code.get(result.strategy_code, ()):
            ctx.results.append(result)
            callback = getattr(strategy, "on_result", None)
            if callback is not None:
                callback(result, ctx)

    async def on_tick(self, tick: Tick) -> None:
        """Hand a tick the service has taken to the strategies; submit what they asked for."""
        for strategy, ctx in self.strategies:
            strategy.on_tick(tick, ctx)
            while ctx.pending:
                batch, ctx.pending = ctx.pending, []
                for intent in batch:
                    await self.svc.submit(intent)

    async def follow(self) -> None:
        """Run the strategies on the ticks of the service's WebSocket (``svc.feed``), which must be
        open, until a strategy fails or the WebSocket ends.

        Raises:
            Exception: a strategy's error, or a submission's (``ServiceNotRunningError`` once the
                NATS lease is lost): the first one, after which the strategies see no more ticks.
            ServiceError: the WebSocket failed (a bug, logged where it happened).
            ServiceNotRunningError: the service stopped (or was killed) under the feed.

        A strategy that fails on a tick it was handed before ``follow`` ended (cancelled while the
        tick was in a submission) has its error logged and counted by the feed
        (``callback_failures``), as any tick callback's.
        """
        feed = self.svc.feed
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def on_tick(tick: Tick) -> None:
            if failed.done():
                return
            try:
                await self.on_tick(tick)
            except Exception as exc:
                if failed.done():  # follow() ended (cancelled, or the feed ended) while this tick ran
                    raise  # so nobody is left to raise it: the feed logs and counts it as itself
                failed.set_exception(exc)  # raised by follow(), not logged by the feed and carried on

        remove = feed.on_tick(on_tick)
        try:
            await first_of(failed, feed.wait_ended())  # raises a strategy's error, if one failed
        finally:
            remove()
        if feed.failure is not None:
            raise ServiceError(f"the Kite WebSocket failed: {feed.failure!r}") from feed.failure
        raise ServiceNotRunningError("the service stopped under its market-data feed")


def replay_ticks(files: list[str], instruments: Instruments) -> tuple[int, Iterator[Tick]]:
    """The ticks of ``files`` in order, read lazily, and the first one's ``ts_event``.

    The first tick is read at once because the replay clock starts at its time.

    Raises:
        ConfigError: the files hold no ticks.
    """
    ticks = _chain(files, instruments)
    first = next(ticks, None)
    if first is None:
        raise ConfigError(f"feed.ticks={files!r}: no ticks")
    return first.ts_event, _prepend(first, ticks)


def check_feed_token(config: Config, mode: str) -> None:
    """Refuse to start a Kite feed that would have no access token (a dry run needs none).

    Checked before the service starts, so a missing token is one line at the command line
    rather than the feed task's failure after the day's journal was opened.

    Raises:
        BrokerAuthError: not a dry run, and no access token; in paper mode the message says that
            paper without tick files takes Kite's live ticks.
        ConfigError: not a dry run, and the token file is readable by others.
    """
    if config.execution.dry_run:
        return
    from execsvc.errors import BrokerAuthError
    from execsvc.executors.kite.auth import load_access_token

    try:
        load_access_token(config.kite)
    except BrokerAuthError as exc:
        if mode != "paper":
            raise
        raise BrokerAuthError(
            f"paper mode without tick files (--ticks, feed.ticks) trades on Kite's live ticks: {exc}"
        ) from exc


def _chain(files: list[str], instruments: Instruments) -> Iterator[Tick]:
    # A long-running daemon skips a bad line or frame (named in the log) instead of dying on it.
    for path in files:
        yield from read_ticks(path, instruments=instruments, on_bad="skip", on_skip=_skipped)


def _skipped(error: TickDataError) -> None:
    log.warning("bad tick skipped: %s", error)


def _prepend(first: Tick, rest: Iterator[Tick]) -> Iterator[Tick]:
    yield first
    yield from rest
