"""Postbacks (FACTS.md 3.1): order updates POSTed as raw JSON to the app's postback URL.

Sent for the statuses COMPLETE, CANCELLED, REJECTED and UPDATE, each once, without retries (Kite
documents none), in the order they happened.

Resource handling:
    ``run()`` is the one sender task, owned by the simulator: it opens an aiohttp client session,
    drains the bounded queue and closes the session when cancelled. ``submit`` never blocks: when
    the queue is full the postback is dropped and counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from execsvc.sim.limits import SimStats
from execsvc.sim.orders import NOTIFY_STATUSES

__all__ = ["PostbackSender"]


class PostbackSender:
    """Queues postbacks and sends them one at a time; see the module docstring.

    Args:
        url: the postback URL.
        stats: counts sent, failed and dropped postbacks.
        queue_size: postbacks waiting to be sent (see ``SimConfig.postback_queue_size``).
        timeout_s: per-request timeout; a slow receiver delays later postbacks by at most this.
        on_done: called after each postback is counted (sent or failed): wakes ``wait_until``.
    """

    def __init__(
        self,
        url: str,
        stats: SimStats,
        queue_size: int,
        timeout_s: float = 5.0,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.stats = stats
        self.timeout_s = timeout_s
        self.on_done = on_done
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)

    def submit(self, status: str, payload: dict[str, Any]) -> None:
        """Queue ``payload`` if ``status`` is one Kite posts back."""
        if status not in NOTIFY_STATUSES:
            return
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.stats.postbacks_dropped += 1

    async def run(self, started: asyncio.Event | None = None) -> None:
        """Send queued postbacks until cancelled; sets ``started`` once ready."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if started is not None:
                started.set()
            while True:
                payload = await self.queue.get()
                try:
                    async with session.post(self.url, json=payload) as resp:
                        await resp.read()
                        ok = resp.status < 400
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    self.stats.postbacks_sent += 1
                else:
                    self.stats.postbacks_failed += 1
                if self.on_done is not None:
                    self.on_done()
