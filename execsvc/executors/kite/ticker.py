"""An asyncio client for Kite's WebSocket: binary ticks and text order updates.

It connects to ``{ws_root}?api_key=..&access_token=..`` (FACTS.md section 4), subscribes its tokens
in their mode, decodes binary frames with execsvc's own Kite codec and hands ticks and order updates
to callbacks. Tokens subscribed (or unsubscribed) while it runs (:meth:`KiteTickerClient.subscribe`)
are sent on the open connection at once, and with the rest after every reconnect. A connection
that sends nothing (not even Kite's 1-byte heartbeat) for ``heartbeat_timeout`` seconds is taken
for dead. Every disconnect is logged and counted, and the client reconnects with exponential
back-off and subscribes again. A handshake refused with HTTP 403
(the Kite session expired or was invalidated) is not hammered: the session is told (one ERROR, see
``session``) and the client waits for a new token (:meth:`KiteTickerClient.set_access_token`, which
the session calls when it is restored) or ``auth_retry_seconds``, whichever comes first. Without
a session (paper mode on Kite's live ticks: no REST client) it re-reads the token itself
(``reload_token``, every ``reload_interval`` seconds) and reconnects with a new one.

Resource handling: ``run`` owns the aiohttp session and the socket and closes both when cancelled.
Secrets: the URL carries the access token, so it is never logged; ``repr`` shows no token.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import msgspec

from execsvc.aio import first_of
from execsvc.executors.kite.envelope import redact_secrets
from execsvc.executors.kite.session import KiteSession
from execsvc.json_input import UNREADABLE_JSON
from execsvc.market.kite_codec import KiteDecoder
from execsvc.market.ticks import Tick

log = logging.getLogger("execsvc.ticker")

TickHandler = Callable[[list[Tick]], Awaitable[None] | None]
OrderHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
FrameHandler = Callable[[int, bytes], None]
_decode_text = msgspec.json.Decoder().decode


async def _call(handler: Callable[[Any], Awaitable[None] | None], arg: Any) -> None:
    outcome = handler(arg)
    if inspect.isawaitable(outcome):
        await outcome


class KiteTickerClient:
    """Streams ticks and order updates from Kite (or the Kite simulator); see the module docstring.

    Args:
        ws_root: ``wss://ws.kite.trade`` or a simulator's ``ws://127.0.0.1:PORT``.
        api_key, access_token: credentials (the token is kept out of logs and repr).
        tokens: instrument tokens to subscribe (more may follow: :meth:`subscribe`).
        mode: ``ltp``, ``quote`` or ``full``: theirs, and the default of :meth:`subscribe`.
        decoder: turns frames into ticks (with symbols from the instruments dump).
        on_ticks, on_order: callbacks for decoded ticks and for order-update dicts.
        on_frame: called with (receive time ns, raw frame) for recording.
        now_ns: the clock stamped on frames.
        heartbeat_timeout: seconds of silence after which the connection is dropped.
        backoff_initial, backoff_max: reconnect delays (doubling).
        sleep: the back-off sleep (tests pass a fast one).
        session: the live service's Kite session: told of a refused handshake, and it hands over a
            new token when restored (None: the client says it itself, once).
        auth_retry_seconds: the slow retry of a refused token while no new one comes.
        reload_token: without a session, what re-reads the token (the token file) while it is
            refused: a token, or None while there is none to read.
        reload_interval: how often ``reload_token`` is called while the token is refused.
    """

    def __init__(
        self,
        *,
        ws_root: str,
        api_key: str,
        access_token: str,
        tokens: Sequence[int],
        mode: str = "full",
        decoder: KiteDecoder,
        on_ticks: TickHandler,
        on_order: OrderHandler | None = None,
        on_frame: FrameHandler | None = None,
        now_ns: Callable[[], int],
        heartbeat_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: KiteSession | None = None,
        auth_retry_seconds: float = 300.0,
        reload_token: Callable[[], str | None] | None = None,
        reload_interval: float = 1.0,
    ) -> None:
        self._root, self._api_key = ws_root.rstrip("/"), api_key
        self._display = f"{ws_root} (api_key {api_key[:3]}***)"
        self._secrets: tuple[str, ...] = ()
        self._new_token = asyncio.Event()
        self.set_access_token(access_token)
        self._new_token.clear()
        self.session = session
        self.auth_retry_seconds = auth_retry_seconds
        self.auth_refusals = 0
        self.reload_token = reload_token if session is None else None
        self.reload_interval = reload_interval
        if session is not None:
            session.on_token(self.set_access_token)
        self.mode = mode
        self.modes: dict[int, str] = dict.fromkeys(tokens, mode)  # what every (re)connection subscribes
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._send_lock = asyncio.Lock()  # a subscribe from another task never interleaves frames
        self.decoder = decoder
        self.on_ticks = on_ticks
        self.on_order = on_order
        self.on_frame = on_frame
        self.now_ns = now_ns
        self.heartbeat_timeout = heartbeat_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.state = "idle"
        self.connects = 0
        self.disconnects = 0
        self.frames = 0
        self.ticks = 0
        self.order_updates = 0
        self.connected = asyncio.Event()

    def __repr__(self) -> str:
        return f"KiteTickerClient({self._display}, state={self.state}, tokens={len(self.modes)})"

    @property
    def tokens(self) -> list[int]:
        """The instrument tokens subscribed (on every connection from now on)."""
        return list(self.modes)

    async def subscribe(self, tokens: Sequence[int], mode: str | None = None) -> None:
        """Subscribe ``tokens`` in ``mode`` (default: the client's), or change their mode.

        Sent now if connected (a send that fails with the connection is left to the reconnect,
        which subscribes everything), and again after every reconnect.
        """
        chosen, wanted = mode or self.mode, list(tokens)
        for token in wanted:
            self.modes[token] = chosen
        if wanted:
            await self._send_now([{"a": "subscribe", "v": wanted}, {"a": "mode", "v": [chosen, wanted]}])

    async def unsubscribe(self, tokens: Sequence[int]) -> None:
        """Stop the ticks of ``tokens`` (order updates come all the same: they are the account's)."""
        wanted = list(tokens)
        for token in wanted:
            self.modes.pop(token, None)
        if wanted:
            await self._send_now([{"a": "unsubscribe", "v": wanted}])

    async def _send_now(self, messages: list[dict[str, Any]]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return  # the next connection subscribes what ``modes`` holds then
        try:
            async with self._send_lock:
                for message in messages:
                    await ws.send_str(json.dumps(message))
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.debug("subscription not sent (%s): the reconnect sends it", type(exc).__name__)

    def set_access_token(self, access_token: str) -> None:
        """Connect with a new token from now on (a refused handshake's wait ends at once)."""
        self._token = access_token
        self._url = f"{self._root}/?api_key={self._api_key}&access_token={access_token}"
        # the old token stays redacted too: a library error may still quote it
        self._secrets = (f"{self._api_key}:{access_token}", access_token, *self._secrets)[:6]
        self._new_token.set()

    async def run(self) -> None:
        """Connect, stream and reconnect until cancelled."""
        delay = self.backoff_initial
        async with aiohttp.ClientSession(headers={"X-Kite-Version": "3"}) as session:
            while True:
                self.state = "connecting"
                url = self._url
                try:
                    async with session.ws_connect(url, heartbeat=None, autoping=True) as ws:
                        self.connects += 1
                        self.state = "connected"
                        self.connected.set()
                        delay = self.backoff_initial
                        log.info("websocket connected to %s", self._display)
                        self._ws = ws
                        try:
                            await self._subscribe(ws)
                            reason = await self._read(ws)
                        finally:
                            self._ws = None
                except aiohttp.WSServerHandshakeError as exc:
                    reason = self._redact(f"{type(exc).__name__}: {exc}".replace(self._url, self._display))
                    if exc.status == 403 and url != self._url:  # a new token came meanwhile: the
                        self._new_token.clear()  # refusal is the old one's, not the new one's
                        continue
                    if exc.status == 403:  # the token is dead: wait for a new one, slowly retry
                        await self._token_refused(f"WebSocket handshake refused: HTTP 403 ({reason})")
                        delay = self.backoff_initial
                        continue
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    reason = self._redact(f"{type(exc).__name__}: {exc}".replace(self._url, self._display))
                self.connected.clear()
                self.state = "disconnected"
                self.disconnects += 1
                log.warning("websocket disconnected (%s); reconnecting in %.1f s", reason, delay)
                await self.sleep(delay)
                delay = min(delay * 2, self.backoff_max)

    async def _token_refused(self, why: str) -> None:
        self.connected.clear()
        self.state = "session_expired"
        self.auth_refusals += 1
        if self.session is not None:
            self.session.expire(why)  # one ERROR for the whole service, saying what to do
        elif self.auth_refusals == 1 and self.reload_token is not None:
            log.error("%s: the Kite session expired or was invalidated; run `execsvc login`: the token "
                      "file is re-read every %g s", why, self.reload_interval)  # fmt: skip
        elif self.auth_refusals == 1:
            log.error("%s: the Kite session expired or was invalidated; run `execsvc login` and restart "
                      "(retrying every %g s)", why, self.auth_retry_seconds)  # fmt: skip
        else:
            log.debug("%s", why)
        if not self._new_token.is_set():
            reloading = [self._reload_until_new()] if self.reload_token is not None else []
            await first_of(self._new_token.wait(), self.sleep(self.auth_retry_seconds), *reloading)
        self._new_token.clear()

    async def _reload_until_new(self) -> None:
        assert self.reload_token is not None
        refused = self._token
        while True:
            await self.sleep(self.reload_interval)
            token = self.reload_token()
            if token is not None and token != refused:
                log.warning("a new Kite access token in the token file: reconnecting with it")
                self.set_access_token(token)
                return

    def _redact(self, text: str) -> str:
        # broker text and library errors (which may quote the URL) reach the log: no token in them,
        # whatever logging the embedding application set up
        return redact_secrets(text, self._secrets)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        by_mode: dict[str, list[int]] = {}
        for token, mode in self.modes.items():
            by_mode.setdefault(mode, []).append(token)
        async with self._send_lock:  # per mode, subscribe then mode, as pykiteconnect resubscribes
            for mode, tokens in by_mode.items():
                await ws.send_str(json.dumps({"a": "subscribe", "v": tokens}))
                await ws.send_str(json.dumps({"a": "mode", "v": [mode, tokens]}))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        while True:
            try:
                msg = await ws.receive(timeout=self.heartbeat_timeout)
            except TimeoutError:
                await ws.close()
                return f"no data or heartbeat for {self.heartbeat_timeout:.1f} s"
            if msg.type == aiohttp.WSMsgType.BINARY:
                await self._on_binary(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await self._on_text(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return f"closed by the server (code {ws.close_code})"
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return f"error: {ws.exception()}"

    async def _on_binary(self, frame: bytes) -> None:
        self.frames += 1
        if len(frame) < 2:
            return  # Kite's 1-byte heartbeat
        now = self.now_ns()
        if self.on_frame is not None:
            self.on_frame(now, frame)
        try:
            ticks = self.decoder.decode_frame(frame, recv_ns=now)
        except Exception as exc:  # a bad frame is reported and skipped; the stream goes on
            log.warning("bad websocket frame of %d bytes skipped: %s", len(frame), exc)
            return
        if ticks:
            self.ticks += len(ticks)
            await _call(self.on_ticks, ticks)

    async def _on_text(self, text: str) -> None:
        try:
            message = _decode_text(text)
        # read as the REST answers are: msgspec refuses a lone surrogate (\ud800), which the
        # journal could not write, and an integer past 64 bits; nesting past it raises
        # RecursionError. Each is a bad message to skip, never the end of the feed.
        except UNREADABLE_JSON as exc:
            log.warning("non-JSON text message ignored (%d chars): %s", len(text), type(exc).__name__)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "order" and isinstance(message.get("data"), dict):
            self.order_updates += 1
            if self.on_order is not None:
                await _call(self.on_order, message["data"])
        elif kind == "error":
            log.warning("websocket error message from the broker: %s", self._redact(str(message.get("data"))))
        elif kind == "message":
            log.info("websocket message from the broker: %s", self._redact(str(message.get("data"))))
