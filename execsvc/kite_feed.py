"""The service's own Kite WebSocket: one connection for its order updates and every tick wanted.

Kite allows three WebSocket connections per api_key and streams every order update of the account
on each of them (FACTS.md 4.1, 3.2). So a service opens one, and everything in the process shares it:

- A live service (not a dry run) opens it as it starts, once the start-up reconciliation is done,
  and applies the order updates it brings (a resting order's fill, a rejection after placement, a
  cancel by the exchange) as they come, not at the next order-book poll
  (``kite.poll_interval_seconds``, which stays the fallback). With ``kite.websocket: false`` it
  opens none at the start (a runner with a WebSocket of its own hands its updates to
  ``svc.order_update``).
- Otherwise (paper on Kite's live ticks, a dry run, ``kite.websocket: false``) the first
  :meth:`KiteFeed.subscribe` opens it. Order updates then come on it too (paper publishes them to
  nobody: its simulated broker makes its own).

Ticks of subscribed instruments go through the service's market path (``svc.on_tick``: marks,
paper and dry-run fills), then to each :meth:`KiteFeed.on_tick` callback, in order, in the
WebSocket's task: a slow callback holds up the next frame and the order updates behind it. On
paper and in a dry run both take a token's packets of its subscribed mode only (as ``execsvc
record`` does): the quote packets Kite sends before it reads a subscription's mode message carry
no time, and would bring the last session's price back after the date line
(``executors/paper/last_session``).

Resource handling: the client runs as a background task of the service's task group. A stop ends
the ticks at once (nothing a callback submitted would be taken), keeps hearing order updates while
live orders settle, then closes the socket; a kill cancels it with everything else. Reconnects with
back-off, the heartbeat watchdog and a refused token are the client's
(:mod:`execsvc.executors.kite.ticker`): live, a refused handshake expires the service's Kite
session, whose new token (re-read file, ``set_access_token``) the client takes; without a Kite
session (paper, dry run) the client re-reads the token file itself.
Error handling: a callback that raises is logged with its traceback and counted
(``callback_failures``), and the feed goes on: a bug in a runner's handler must not cost the
service its order updates. The client failing (a bug) is logged and kept in ``failure``; order
updates then come from the poll alone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from execsvc.errors import ExecsvcError, ServiceError, ServiceNotRunningError, ValidationError
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.logs import register_secret
from execsvc.market.kite_codec import KiteDecoder
from execsvc.market.ticks import Tick

if TYPE_CHECKING:
    from execsvc.lifecycle import Lifecycle
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.feed")

TickCallback = Callable[[Tick], Awaitable[None] | None]
MODES = ("ltp", "quote", "full")
MAX_INSTRUMENTS = 3000  # per connection (FACTS.md 4.1)
_TOKEN_LIMIT = 1 << 32  # a Kite binary packet carries the token in 32 bits


class KiteFeed:
    """A service's Kite WebSocket (see the module docstring); ``svc.feed``.

    Args:
        svc: the service whose market path, order updates and Kite session it serves.
        lifecycle: the service's task group (the client's task is one of its background tasks).
    """

    def __init__(self, svc: ExecutionService, lifecycle: Lifecycle) -> None:
        self._svc = svc
        self._lifecycle = lifecycle
        self.ticker: KiteTickerClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._callbacks: list[TickCallback] = []
        self.callback_failures = 0
        self.failure: BaseException | None = None
        self._ended: asyncio.Event | None = None

    @property
    def opens_at_start(self) -> bool:
        """Whether the service opens it as it starts: live, not a dry run, ``kite.websocket``."""
        config = self._svc.config
        return self._svc.mode == "live" and not config.execution.dry_run and config.kite.websocket

    def start(self) -> KiteTickerClient:
        """Open the WebSocket in the service's task group, once; returns its client."""
        if self.ticker is None:
            self._ended = asyncio.Event()
            ticker = self.ticker = _build_ticker(self._svc, self._on_ticks)
            # what a resubscription sends again, which the paper date line keeps if undated
            self._svc.engine.paper.feed_tokens = ticker.modes.keys
            self._task = self._lifecycle.spawn(
                self._run(self.ticker, self._ended), "kite-websocket", self._lifecycle.background
            )
        return self.ticker

    async def subscribe(self, tokens: Iterable[int], mode: str | None = None) -> None:
        """Stream these instruments' ticks (Kite instrument tokens, e.g. 408065 for NSE:INFY).

        Each tick goes through the service's market path, then to the :meth:`on_tick` callbacks.
        Opens the WebSocket if it is not open (an empty ``tokens`` opens it and subscribes nothing);
        sent at once while connected, and again after every reconnect. Subscribing a token again
        changes its mode.

        Args:
            tokens: instrument tokens (the instruments dump's ``instrument_token``).
            mode: ``ltp``, ``quote`` or ``full`` (default: ``feed.mode``).

        Raises:
            ServiceNotRunningError: the service is not running (or is stopping).
            ServiceError: the WebSocket failed (a bug, logged when it happened).
            ValidationError: a token that is not a positive int below 2**32, an unknown mode, or
                more than 3000 instruments on the connection (Kite's limit).
            BrokerAuthError, ConfigError: paper (not live) and no usable access token to open it with.
        """
        wanted = _checked_tokens(tokens)
        mode = self._svc.config.feed.mode if mode is None else mode
        if mode not in MODES:
            raise ValidationError(f"subscribe: mode={mode!r}: must be one of {', '.join(MODES)}")
        if not self._lifecycle.running or self._lifecycle.draining:
            raise ServiceNotRunningError("subscribe on a service that is not running")
        if self.failure is not None:
            raise ServiceError(f"subscribe: the Kite WebSocket failed: {self.failure!r}") from self.failure
        known = set(self.ticker.modes) if self.ticker is not None else set()
        if len(known | set(wanted)) > MAX_INSTRUMENTS:
            raise ValidationError(
                f"subscribe: {len(known | set(wanted))} instruments: Kite streams at most "
                f"{MAX_INSTRUMENTS} on a connection"
            )
        await self.start().subscribe(wanted, mode)

    async def unsubscribe(self, tokens: Iterable[int]) -> None:
        """Stop these instruments' ticks (order updates keep coming: they are the account's).

        Raises:
            ValidationError: a token that is not a positive int below 2**32.
        """
        wanted = _checked_tokens(tokens)
        if self.ticker is not None:
            await self.ticker.unsubscribe(wanted)

    def on_tick(self, callback: TickCallback) -> Callable[[], None]:
        """Call ``callback`` (sync or async) with each tick of the WebSocket, once the service's market
        path has it, until a stop begins; the callbacks run in the order they were added.

        Returns:
            A function that removes the callback.
        """
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    async def wait_ended(self) -> None:
        """Return once the WebSocket's task has ended (closed by a stop or a kill, or failed)."""
        if self._ended is None:
            raise ServiceNotRunningError("the Kite WebSocket was never opened")
        await self._ended.wait()

    async def close(self) -> None:
        """Close the socket now (a stop does it once live orders have settled)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _run(self, ticker: KiteTickerClient, ended: asyncio.Event) -> None:
        try:
            await ticker.run()
        except Exception as exc:  # a bug: not the service's end, but the WebSocket's
            self.failure = exc
            log.exception("the Kite WebSocket failed; order updates come from the order-book poll alone")
        finally:
            ended.set()

    async def _on_ticks(self, ticks: list[Tick]) -> None:
        svc, lifecycle = self._svc, self._lifecycle
        ticker = self.ticker
        simulated = svc.engine.paper.result_mode != "live"  # paper, dry run: the paper broker fills
        modes = ticker.modes if ticker is not None and simulated else None
        for tick in ticks:
            if lifecycle.draining or lifecycle.closed:
                return
            # a simulated broker (paper, dry run) takes a token's ticks in its subscribed mode
            # only: Kite opens every subscription in quote mode until it reads the mode message,
            # and that undated quote packet would bring the last session's price back as the new
            # day's, ahead of the full packet whose stamp tells it (``paper.last_session``); its
            # callbacks see what its market has
            if modes is not None and modes.get(tick.instrument_token, tick.mode) != tick.mode:
                continue
            await svc.on_tick(tick)
            for callback in tuple(self._callbacks):
                try:
                    outcome = callback(tick)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    self.callback_failures += 1
                    log.exception("a tick callback failed; the feed goes on")


def _checked_tokens(tokens: Iterable[int]) -> list[int]:
    if isinstance(tokens, str | bytes):  # a str is iterable: "408065" would be six tokens
        raise ValidationError(f"subscribe: tokens={tokens!r}: a list of instrument tokens (ints)")
    wanted = list(tokens)
    for token in wanted:
        if type(token) is not int or not 0 < token < _TOKEN_LIMIT:
            raise ValidationError(f"instrument token {token!r}: must be an int from 1 to {_TOKEN_LIMIT - 1}")
    return wanted


def _build_ticker(
    svc: ExecutionService, on_ticks: Callable[[list[Tick]], Awaitable[None]]
) -> KiteTickerClient:
    """The client, with the access token chosen as the session is (see the module docstring).

    Live takes the Kite client's token (whatever its source: the environment, the token file, the
    embedder's argument). A dry run uses the token if one loads and the placeholder ``dry-run`` if
    not. Either way it is registered as a secret (kept out of logs) before the client gets it.

    Raises:
        BrokerAuthError: paper, and no access token (see ``load_access_token``).
        ConfigError: paper, and the token file is readable by others.
    """
    from execsvc.executors.kite.auth import load_access_token

    config = svc.config
    client = svc.kite_client
    if client is not None:
        token = client.access_token.reveal()
    elif config.execution.dry_run:
        token = _dry_token(svc)
    else:
        token = load_access_token(config.kite).reveal()
    register_secret(token)
    # no Kite client (paper on live ticks, a dry run) means no session to take a new token from:
    # the ticker re-reads the token file itself after a 403, as the live session would
    session = client.auth if client is not None else None
    return KiteTickerClient(
        ws_root=config.kite.ws_root,
        api_key=config.kite.api_key,
        access_token=token,
        tokens=(),
        mode=config.feed.mode,
        decoder=KiteDecoder(svc.engine.instruments),
        on_ticks=on_ticks,
        on_order=svc.order_update,
        now_ns=svc.clock.now_ns,
        heartbeat_timeout=config.feed.heartbeat_timeout_seconds,
        session=session,
        reload_token=partial(_reread_token, svc) if session is None else None,
        reload_interval=config.kite.poll_interval_seconds,
    )


def _reread_token(svc: ExecutionService) -> str | None:
    """The token file's token, registered as a secret; None while unusable or from the environment
    (which a running process cannot re-read)."""
    from execsvc.executors.kite.auth import load_access_token, token_source

    kite = svc.config.kite
    if token_source(kite) != "file":
        return None
    try:
        token = load_access_token(kite).reveal()
    except ExecsvcError as exc:
        log.debug("Kite token file not usable yet: %s", exc)
        return None
    register_secret(token)
    return token


def _dry_token(svc: ExecutionService) -> str:
    from execsvc.executors.kite.auth import load_access_token

    try:
        return load_access_token(svc.config.kite).reveal()
    except ExecsvcError:
        return "dry-run"
