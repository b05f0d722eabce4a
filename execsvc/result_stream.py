"""The async iterators behind ``ExecutionService.results``: bounded queues fed by bus subscriptions.

An iterator subscribes when it is made, not when it is first read: ``it = svc.results()`` taken
before an ``execute_intent`` sees that intent's results, even if the first ``async for`` over it
comes later.

While the service runs, a reader that falls behind its bound slows the results topic down (no
result is dropped for it). Once the service stops (:meth:`ResultStreams.unbound`, called before
the stop drains), the bound is lifted: the results still on their way are queued for every
iterator whatever its bound, so the drain never waits for a reader that will not read (a runner
that took an iterator in one branch and never read it), and a reader that does read still gets
every one of them, then the end. What is left past the bound is finite: intake has stopped.

Resource handling: the subscription ends when the iterator finishes, is closed (``aclose``, or
leaving an ``async for`` early) or is garbage-collected, even one that was never read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections import deque
from collections.abc import AsyncGenerator

from execsvc.bus.memory import MemoryBus, MemorySubscription
from execsvc.bus.nats import NatsBus
from execsvc.engine import RESULTS_TOPIC
from execsvc.events import ExecutionResult

log = logging.getLogger("execsvc.service")


class _Feed:
    """One iterator's queue: bounded while the service runs, unbounded once it stops."""

    __slots__ = ("__weakref__", "maxsize", "queued", "ready", "room")

    def __init__(self, maxsize: float) -> None:
        self.maxsize = maxsize
        self.queued: deque[ExecutionResult] = deque()
        self.ready, self.room = asyncio.Event(), asyncio.Event()

    async def put(self, result: ExecutionResult) -> None:
        while len(self.queued) >= self.maxsize:
            self.room.clear()
            await self.room.wait()
        self.queued.append(result)
        self.ready.set()

    def unbound(self) -> bool:
        """Lift the bound; whether a result was waiting for room (nobody read this iterator)."""
        full = len(self.queued) >= self.maxsize
        self.maxsize = math.inf
        self.room.set()
        return full


class ResultStreams:
    """The result iterators of one service (see the module docstring).

    Args:
        bus: the service's bus.
    """

    def __init__(self, bus: MemoryBus | NatsBus) -> None:
        self._bus = bus
        self._feeds: weakref.WeakSet[_Feed] = weakref.WeakSet()
        self._unbounded = False

    def open(self, maxsize: int) -> AsyncGenerator[ExecutionResult, None]:
        """Every result published from now on; it ends once the bus closes.

        Args:
            maxsize: the queue bound (at least 1) while the service runs.
        """
        feed = _Feed(math.inf if self._unbounded else maxsize)
        self._feeds.add(feed)
        sub = self._bus.subscribe(RESULTS_TOPIC, feed.put, name="results-iterator", overflow="block")
        sub.when_closed(feed.ready.set)
        stream = _read(self._bus, sub, feed)
        weakref.finalize(stream, self._bus.unsubscribe, sub)  # never read: its finally never runs
        return stream

    def unbound(self) -> None:
        """The service is stopping: no iterator's bound holds the results topic back any more."""
        self._unbounded = True
        full = sum(feed.unbound() for feed in list(self._feeds))
        if full:
            log.warning(
                "%d results() iterator(s) full at the stop (nobody reads them?): the results still "
                "on their way are queued for them past their bound, so the stop does not wait",
                full,
            )


async def _read(
    bus: MemoryBus | NatsBus, sub: MemorySubscription, feed: _Feed
) -> AsyncGenerator[ExecutionResult, None]:
    queued, ready, room = feed.queued, feed.ready, feed.room
    try:
        while True:
            if queued:
                result = queued.popleft()
                room.set()
                yield result
            elif sub.closed:
                return
            else:
                ready.clear()
                await ready.wait()
    finally:
        bus.unsubscribe(sub)
