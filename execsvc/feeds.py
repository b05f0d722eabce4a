"""Where the daemon's ticks come from, and how its embedded strategies see them.

Two feeds: tick files replayed in order (paper, on the replay clock), or the Kite WebSocket (live
and dry-run; also the Kite simulator), with a :class:`StrategyHost` that hands each tick to the
service and then to the strategies, and submits whatever they asked for.

This is apart from :mod:`execsvc.daemon` because the daemon is about the day's lifecycle (signals,
session close, square-off, drain), and none of that changes what a feed is: opening tick files,
choosing the ticker's access token and feeding strategies can be read and tested without signals
or a task group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from execsvc.config import Config
from execsvc.errors import ConfigError, ExecsvcError, TickDataError
from execsvc.logs import register_secret
from execsvc.market.files import read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.service import ExecutionService
from execsvc.strategies.base import StrategyContext, strategy_contexts

if TYPE_CHECKING:
    from execsvc.executors.kite.ticker import KiteTickerClient, TickHandler

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

    async def on_ticks(self, ticks: list[Tick]) -> None:
        """Feed ticks to the service and the strategies; submit what the strategies asked for."""
        for tick in ticks:
            await self.svc.on_tick(tick)
            for strategy, ctx in self.strategies:
                strategy.on_tick(tick, ctx)
                while ctx.pending:
                    batch, ctx.pending = ctx.pending, []
                    for intent in batch:
                        await self.svc.submit(intent)


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


def kite_ticker(svc: ExecutionService, config: Config, on_ticks: TickHandler) -> KiteTickerClient:
    """The Kite WebSocket client for ``feed.tokens``, feeding ``on_ticks`` and the service's order updates.

    A dry run uses the access token if one loads and the placeholder ``dry-run`` if not; either
    way the token is registered as a secret (kept out of logs) before the client gets it.

    Raises:
        BrokerAuthError: not a dry run, and no access token (see ``load_access_token``).
        ConfigError: not a dry run, and the token file is readable by others.
    """
    # imported on use: a paper replay never loads the Kite client
    from execsvc.executors.kite.auth import load_access_token
    from execsvc.executors.kite.ticker import KiteTickerClient
    from execsvc.market.kite_codec import KiteDecoder

    token = load_access_token(config.kite).reveal() if not config.execution.dry_run else _dry_token(config)
    register_secret(token)
    # no Kite client (paper on live ticks, a dry run) means no session to take a new token from:
    # the ticker re-reads the token file itself after a 403, as the live session would
    session = svc.kite_client.auth if svc.kite_client is not None else None
    return KiteTickerClient(
        ws_root=config.kite.ws_root,
        api_key=config.kite.api_key,
        access_token=token,
        tokens=config.feed.tokens,
        mode=config.feed.mode,
        decoder=KiteDecoder(svc.engine.instruments),
        on_ticks=on_ticks,
        on_order=svc.order_update,
        now_ns=svc.clock.now_ns,
        heartbeat_timeout=config.feed.heartbeat_timeout_seconds,
        # live: a refused handshake expires the service's Kite session, whose new token it takes
        session=session,
        reload_token=partial(_reread_token, config) if session is None else None,
        reload_interval=config.kite.poll_interval_seconds,
    )


def _reread_token(config: Config) -> str | None:
    """The token file's token, registered as a secret; None while unusable or from the environment
    (which a running process cannot re-read)."""
    from execsvc.executors.kite.auth import load_access_token, token_source

    if token_source(config.kite) != "file":
        return None
    try:
        token = load_access_token(config.kite).reveal()
    except ExecsvcError as exc:
        log.debug("Kite token file not usable yet: %s", exc)
        return None
    register_secret(token)
    return token


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


def _dry_token(config: Config) -> str:
    try:
        from execsvc.executors.kite.auth import load_access_token

        return load_access_token(config.kite).reveal()
    except ExecsvcError:
        return "dry-run"


def _chain(files: list[str], instruments: Instruments) -> Iterator[Tick]:
    # A long-running daemon skips a bad line or frame (named in the log) instead of dying on it.
    for path in files:
        yield from read_ticks(path, instruments=instruments, on_bad="skip", on_skip=_skipped)


def _skipped(error: TickDataError) -> None:
    log.warning("bad tick skipped: %s", error)


def _prepend(first: Tick, rest: Iterator[Tick]) -> Iterator[Tick]:
    yield first
    yield from rest
