"""The Kite WebSocket (FACTS.md 4): binary ticks, text order updates, heartbeats.

Clients connect to ``/?api_key=..&access_token=..``, then send ``{"a": "subscribe", "v": [tokens]}``,
``{"a": "unsubscribe", "v": [tokens]}`` and ``{"a": "mode", "v": [mode, [tokens]]}``. A fresh
subscription is in ``quote`` mode; ``mode`` also subscribes the tokens it names. On subscribe or
mode change the latest tick of each token, if any, is sent at once (a snapshot), so a client can
tell its subscription is live; a ``mode`` message that changes no token's mode sends none. Ticks
go out as binary frames encoded by :func:`execsvc.market.kite_codec.encode_frame` in each token's
mode, a full packet always with an ``exchange_timestamp`` as Kite's; updates of every order of the
user, whichever api_key placed it, as text frames
``{"type": "order", "data": {...}}``; after ``heartbeat_seconds`` without traffic, a 1-byte binary
heartbeat.

Resource handling:
    Each connection has a bounded outgoing queue (``ws_queue_size``) drained by one sender task
    that the connection's handler starts, and cancels and awaits when the connection ends. A full
    queue drops the frame (counted in ``ws_frames_dropped``): the producer (``push_tick``) never
    blocks on a slow client.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from execsvc.market.kite_codec import MODES, encode_frame
from execsvc.market.ticks import Tick
from execsvc.sim.limits import SimStats

__all__ = ["WsConnection", "WsHub"]

log = logging.getLogger(__name__)

_HEARTBEAT = b"\x00"


class WsConnection:
    """One client: its api_key, subscriptions (token -> mode) and outgoing queue."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        api_key: str,
        queue_size: int,
        access_token: str = "",
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.api_key = api_key
        self.access_token = access_token  # a revoked session's connections are cut
        self.modes: dict[int, str] = {}
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=queue_size)


class WsHub:
    """Every open WebSocket connection, and the fan-out of ticks and order updates.

    Args:
        stats: counts connections, refusals and dropped frames.
        latest: the latest tick of an instrument token, for snapshots.
        max_per_key: connections allowed per api_key.
        queue_size: each connection's outgoing queue bound.
        heartbeat_seconds: idle time before a heartbeat.
        close_timeout: how long a clean close waits for the client's close frame.
        on_change: called when a connection opens or closes (a test may await the count).
        now_ns: the simulator's clock: stamps a full packet whose tick carries no time at all.
    """

    def __init__(
        self,
        stats: SimStats,
        latest: Callable[[int], Tick | None],
        *,
        max_per_key: int,
        queue_size: int,
        heartbeat_seconds: float,
        close_timeout: float = 1.0,
        on_change: Callable[[], None] | None = None,
        now_ns: Callable[[], int] = lambda: 0,
    ) -> None:
        self.stats = stats
        self.now_ns = now_ns
        self.latest = latest
        self.max_per_key = max_per_key
        self.queue_size = queue_size
        self.heartbeat_seconds = heartbeat_seconds
        self.close_timeout = close_timeout
        self.on_change = on_change
        self.connections: set[WsConnection] = set()

    def _counted(self) -> None:
        stats = self.stats
        stats.ws_open = len(self.connections)
        stats.ws_open_peak = max(stats.ws_open_peak, stats.ws_open)
        if self.on_change is not None:
            self.on_change()

    def count(self, api_key: str) -> int:
        """Open connections of ``api_key``."""
        return sum(1 for c in self.connections if c.api_key == api_key)

    def _enqueue(self, conn: WsConnection, item: bytes | str) -> None:
        try:
            conn.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.stats.ws_frames_dropped += 1

    def broadcast_tick(self, tick: Tick) -> None:
        """Queue ``tick`` for every connection subscribed to its token, in that connection's mode."""
        token = tick.instrument_token
        frames: dict[str, bytes] = {}
        for conn in self.connections:
            mode = conn.modes.get(token)
            if mode is None:
                continue
            frame = frames.get(mode)
            if frame is None:
                frame = frames[mode] = self._frame(tick, mode)
            self._enqueue(conn, frame)

    def _frame(self, tick: Tick, mode: str) -> bytes:
        """``tick`` as one frame in ``mode``. Kite stamps every full packet (FACTS.md 4.3), and a
        client reads 0 as "no time" (a last-session tick is told by its stamp): a tick pushed
        without ``exchange_timestamp`` takes its own time (a tick file's), else the clock's."""
        if mode == "full" and not tick.exchange_timestamp:
            stamp = (tick.ts_event or self.now_ns()) // 1_000_000_000
            tick = msgspec.structs.replace(tick, exchange_timestamp=stamp)
        return encode_frame((tick,), mode)

    def order_update(self, payload: dict[str, Any]) -> None:
        """Queue an order update for every connection.

        Kite streams all of the user's orders on the WebSocket, whichever app (or Kite web) placed
        them (FACTS.md 3.1, 3.2), and every connection here is the simulator's one user's.
        """
        if self.connections:
            text = json.dumps({"type": "order", "data": payload})
            for conn in self.connections:
                self._enqueue(conn, text)

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> int:
        """Close every connection cleanly (close frame, then wait briefly for the reply)."""
        conns = list(self.connections)
        if conns:
            await asyncio.gather(*(c.ws.close(code=code, message=message) for c in conns))
        return len(conns)

    def drop_all(self) -> int:
        """Cut every connection abruptly (the TCP connection closes without a close frame)."""
        return self.drop_tokens(None)

    def drop_tokens(self, tokens: set[str] | None) -> int:
        """Cut the connections opened with one of ``tokens`` (None: every one), abruptly."""
        conns = [c for c in self.connections if tokens is None or c.access_token in tokens]
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        self.stats.ws_dropped += len(conns)
        return len(conns)

    def _snapshot(self, conn: WsConnection, tokens: list[int]) -> None:
        for token in tokens:
            tick = self.latest(token)
            if tick is not None:
                self._enqueue(conn, self._frame(tick, conn.modes[token]))

    def _handle_text(self, conn: WsConnection, text: str) -> None:
        """Apply one client message; malformed ones are answered with an ``error`` text frame."""
        try:
            msg = json.loads(text)
            action, value = msg["a"], msg["v"]
            if action == "mode":
                mode, tokens = value[0], [int(t) for t in value[1]]
                if mode not in MODES:
                    raise ValueError(f"unknown mode {mode!r}")
            elif action in ("subscribe", "unsubscribe"):
                mode, tokens = "quote", [int(t) for t in value]
            else:
                raise ValueError(f"unknown action {action!r}")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            self._enqueue(conn, json.dumps({"type": "error", "data": f"invalid message: {exc}"}))
            return
        if action == "unsubscribe":
            for token in tokens:
                conn.modes.pop(token, None)
            return
        # a mode message that changes nothing sends nothing: Kite's clients send one after every
        # subscribe, and a second snapshot of the same tick would be recorded twice
        fresh = [t for t in tokens if t not in conn.modes or (action == "mode" and conn.modes[t] != mode)]
        for token in fresh:
            conn.modes[token] = mode
        self._snapshot(conn, fresh)

    async def _sender(self, conn: WsConnection) -> None:
        ws, queue = conn.ws, conn.queue
        while not ws.closed:
            try:
                async with asyncio.timeout(self.heartbeat_seconds):
                    item = await queue.get()
            except TimeoutError:
                item = _HEARTBEAT
            try:
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_str(item)
            except ConnectionError:
                return

    async def handle(self, request: web.Request, api_key: str, access_token: str = "") -> web.StreamResponse:
        """Serve one authenticated connection until it closes (refused with 429 past the limit)."""
        if self.count(api_key) >= self.max_per_key:
            self.stats.ws_refused += 1
            return web.Response(status=429, text="Too many connections", content_type="text/plain")
        ws = web.WebSocketResponse(timeout=self.close_timeout)
        await ws.prepare(request)
        conn = WsConnection(ws, request.transport, api_key, self.queue_size, access_token)
        self.connections.add(conn)
        self.stats.ws_connections += 1
        self._counted()
        sender = asyncio.create_task(self._sender(conn), name="kite-sim-ws-sender")
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._handle_text(conn, msg.data)
        finally:
            self.connections.discard(conn)
            self._counted()
            sender.cancel()
            await asyncio.wait([sender])
            if not sender.cancelled() and sender.exception() is not None:
                log.error("kite-sim: WebSocket sender failed", exc_info=sender.exception())
            await ws.close()
        return ws
