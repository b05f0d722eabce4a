"""Fan-out of results to Server-Sent Event streams (``GET /events``).

One bus subscription (``control-sse``, ``overflow="drop"``) feeds :meth:`SseHub.publish`, which
encodes each result once and appends the frame to every connected client's queue. Each queue is
bounded (``client_queue``, default 256 frames: a few seconds of a busy session for a page that
only shows the last 50 results) and drops its oldest frame when full, so one slow browser costs
memory in proportion to that bound and never slows the service or the other clients.

Resource handling: a stream handler ends when its client goes away (the next write fails; a
status frame every ``status_interval`` seconds guarantees there is one) or when
:meth:`SseHub.close_all` runs from the app's ``on_shutdown`` hook, before aiohttp waits for
handlers to finish; no stream outlives the app.
"""

from __future__ import annotations

import asyncio
from collections import deque

from execsvc.control.responses import encode
from execsvc.events import ExecutionResult


def frame(event: str, data: bytes) -> bytes:
    """One SSE frame: ``event:`` and a single ``data:`` line (compact JSON has no newlines)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class SseClient:
    """One stream's bounded queue of frames (drop oldest) and its wake-up."""

    def __init__(self, maxsize: int) -> None:
        self.queue: deque[bytes] = deque(maxlen=maxsize)
        self.wakeup = asyncio.Event()
        self.closed = False
        self.dropped = 0

    def push(self, data: bytes) -> None:
        """Queue a frame; the oldest is dropped when the queue is full."""
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(data)
        self.wakeup.set()

    def close(self) -> None:
        """End the stream: its handler returns at its next wake-up."""
        self.closed = True
        self.wakeup.set()


class SseHub:
    """The connected streams.

    Args:
        client_queue: frames queued per client before the oldest is dropped.
        status_interval: seconds between status snapshots on an otherwise idle stream.
    """

    def __init__(self, *, client_queue: int = 256, status_interval: float = 5.0) -> None:
        self.client_queue = client_queue
        self.status_interval = status_interval
        self.clients: set[SseClient] = set()
        self.closed = False

    def connect(self) -> SseClient:
        """A new client (already closed when the hub is shutting down)."""
        client = SseClient(self.client_queue)
        if self.closed:
            client.close()
        else:
            self.clients.add(client)
        return client

    def disconnect(self, client: SseClient) -> None:
        """Forget a client whose stream ended."""
        self.clients.discard(client)

    def publish(self, result: ExecutionResult) -> None:
        """The results subscriber: one encoding, one frame, every client. Synchronous."""
        if not self.clients:
            return
        data = frame("result", encode(result))
        for client in self.clients:
            client.push(data)

    def close_all(self) -> None:
        """End every stream, and refuse new ones (app shutdown)."""
        self.closed = True
        for client in list(self.clients):
            client.close()
