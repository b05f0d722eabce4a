"""The async iterator behind ``ExecutionService.results``: a bounded queue fed by a bus subscription.

It subscribes when it is made, not when it is first read: ``it = svc.results()`` taken before an
``execute_intent`` sees that intent's results, even if the first ``async for`` over it comes later.

Resource handling: the subscription ends when the iterator finishes, is closed (``aclose``, or
leaving an ``async for`` early) or is garbage-collected, even one that was never read.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncGenerator

from execsvc.bus.memory import MemoryBus, MemorySubscription
from execsvc.bus.nats import NatsBus
from execsvc.engine import RESULTS_TOPIC
from execsvc.events import ExecutionResult


def result_stream(bus: MemoryBus | NatsBus, maxsize: int) -> AsyncGenerator[ExecutionResult, None]:
    """Every result published on ``bus`` from now on; it ends once the bus closes.

    Args:
        bus: the service's bus.
        maxsize: the queue bound (at least 1): a reader that falls behind slows the service down.
    """
    queued: deque[ExecutionResult] = deque()
    ready, room = asyncio.Event(), asyncio.Event()

    async def put(result: ExecutionResult) -> None:
        while len(queued) >= maxsize:
            room.clear()
            await room.wait()
        queued.append(result)
        ready.set()

    sub = bus.subscribe(RESULTS_TOPIC, put, name="results-iterator", overflow="block")
    sub.when_closed(ready.set)
    stream = _read(bus, sub, queued, ready, room)
    weakref.finalize(stream, bus.unsubscribe, sub)  # never read: its finally never runs
    return stream


async def _read(
    bus: MemoryBus | NatsBus,
    sub: MemorySubscription,
    queued: deque[ExecutionResult],
    ready: asyncio.Event,
    room: asyncio.Event,
) -> AsyncGenerator[ExecutionResult, None]:
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
