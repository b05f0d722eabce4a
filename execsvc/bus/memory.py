"""The in-process bus: one bounded FIFO and one consumer task per subscriber.

Resource handling: consumer tasks run in the task group handed to :meth:`MemoryBus.start`; they
are cancelled with it. :meth:`MemoryBus.close` cancels them, and a publisher still waiting for room
in a queue nobody will read again gets :class:`~execsvc.errors.ServiceNotRunningError`.
Error handling: a handler that raises is logged with its traceback and counted (``failed``); the
consumer carries on with the next event, so one bad subscriber never stops the bus or the others.

Publishing costs a deque append and, when the consumer sleeps, one future wake-up; a consumer
drains everything queued before it sleeps again, so a burst is handled in batches.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from execsvc.bus.base import Handler, Overflow
from execsvc.errors import ServiceNotRunningError

log = logging.getLogger("execsvc.bus")


class MemorySubscription:
    """One subscriber: its bounded queue, its consumer state and its counters."""

    __slots__ = (
        "_handler",
        "_is_async",
        "_not_full",
        "_on_close",
        "_running",
        "_wakeup",
        "batch",
        "closed",
        "delivered",
        "dropped",
        "failed",
        "maxsize",
        "name",
        "overflow",
        "queue",
        "topic",
    )

    def __init__(
        self, topic: str, handler: Handler, *, name: str, maxsize: int, overflow: Overflow, batch: bool
    ) -> None:
        self.topic = topic
        self.name = name
        self.maxsize = maxsize
        self.overflow: Overflow = overflow
        self.batch = batch
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self.queue: deque[Any] = deque()
        self._handler = handler
        self._is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self._wakeup: asyncio.Future[None] | None = None
        self._not_full: asyncio.Future[None] | None = None
        self._running = False
        self._on_close: list[Callable[[], None]] = []
        self.closed = False

    def when_closed(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the bus closes (a reader waiting for more learns there is none)."""
        self._on_close.append(callback)

    def _close(self) -> None:
        self.closed = True
        self._release()
        for callback in self._on_close:
            callback()

    def depth(self) -> int:
        """Events queued and not yet handled."""
        return len(self.queue)

    def idle(self) -> bool:
        """Nothing queued and the handler not running."""
        return not self.queue and not self._running

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _release(self) -> None:
        waiter = self._not_full
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def put(self, event: Any) -> None:
        """Queue one event, honouring the overflow policy."""
        queue = self.queue
        while len(queue) >= self.maxsize:
            if self.overflow == "drop":
                queue.popleft()
                self.dropped += 1
                break
            if self.closed:  # its consumer is gone: there will never be room
                raise ServiceNotRunningError(
                    f"bus closed: subscriber {self.name!r} of {self.topic!r} takes nothing more"
                )
            if self._not_full is None or self._not_full.done():
                self._not_full = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._not_full)
        queue.append(event)
        if self._wakeup is not None:
            self._wake()

    async def consume(self, idle_changed: asyncio.Event) -> None:
        """The consumer loop: runs until cancelled."""
        queue = self.queue
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                self._running = False
                idle_changed.set()
                self._wakeup = loop.create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
                continue
            self._running = True
            if self.batch:
                items: Any = list(queue)
                queue.clear()
                count = len(items)
            else:
                items = queue.popleft()
                count = 1
            self._release()
            try:
                outcome = self._handler(items)
                if self._is_async:
                    await outcome  # type: ignore[misc]
                self.delivered += count
            except Exception:
                self.failed += count
                log.exception("subscriber %r failed on topic %r; it keeps running", self.name, self.topic)


class MemoryBus:
    """The in-process implementation of :class:`execsvc.bus.base.Bus`.

    Args:
        default_maxsize: the queue bound of subscribers that do not give one
            (``bus.queue_size`` in the config).
    """

    def __init__(self, *, default_maxsize: int = 8192) -> None:
        self._default_maxsize = default_maxsize
        self._topics: dict[str, list[MemorySubscription]] = {}
        self._tasks: dict[MemorySubscription, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._idle_changed = asyncio.Event()
        self._closed = False

    def start(self, group: asyncio.TaskGroup) -> None:
        """Start consumer tasks in ``group`` (also for subscriptions made later)."""
        self._group = group
        for subs in self._topics.values():
            for sub in subs:
                self._spawn(sub)

    def _spawn(self, sub: MemorySubscription) -> None:
        if self._group is not None and sub not in self._tasks:
            self._tasks[sub] = self._group.create_task(
                sub.consume(self._idle_changed), name=f"bus:{sub.topic}:{sub.name}"
            )

    def subscribe(
        self,
        topic: str,
        handler: Handler,
        *,
        name: str,
        maxsize: int | None = None,
        overflow: Overflow = "block",
        batch: bool = False,
    ) -> MemorySubscription:
        """Deliver every event of ``topic`` to ``handler`` from a consumer task of its own.

        On a closed bus the subscription comes back closed (no consumer task is started).
        """
        sub = MemorySubscription(
            topic,
            handler,
            name=name,
            maxsize=maxsize or self._default_maxsize,
            overflow=overflow,
            batch=batch,
        )
        if self._closed:  # nothing will be delivered again: a reader learns so at once
            sub._close()
            return sub
        self._topics.setdefault(topic, []).append(sub)
        self._spawn(sub)
        return sub

    def unsubscribe(self, subscription: Any) -> None:
        """Stop delivering to ``subscription``; its queued events are discarded."""
        subs = self._topics.get(subscription.topic, [])
        if subscription in subs:
            subs.remove(subscription)
        task = self._tasks.pop(subscription, None)
        if task is not None:
            task.cancel()
        subscription.queue.clear()
        subscription._release()

    async def publish(self, topic: str, event: Any) -> None:
        """Queue ``event`` for every subscriber of ``topic``, in subscription order."""
        for sub in self._topics.get(topic, ()):
            await sub.put(event)

    def owns(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` is one of this bus's consumer tasks (a handler is running in it)."""
        return task in self._tasks.values()

    def has_subscribers(self, topic: str) -> bool:
        """Whether anyone listens on ``topic`` (publishing to nobody can be skipped)."""
        return bool(self._topics.get(topic))

    def subscriptions(self) -> list[MemorySubscription]:
        """Every live subscription (for status pages and metrics)."""
        return [sub for subs in self._topics.values() for sub in subs]

    async def drain(self) -> None:
        """Wait until every queue is empty and every handler is idle, or the bus closes.

        A consumer cancelled by :meth:`close` may leave its queue or its ``running`` mark as it was:
        once closed, nothing will ever become idle, so waiting would be for ever.
        """
        while not self._closed and not all(sub.idle() for sub in self.subscriptions()):
            self._idle_changed.clear()
            await self._idle_changed.wait()

    async def close(self) -> None:
        """Cancel every consumer task and wait for them to end; wake publishers waiting for room."""
        self._closed = True
        self._idle_changed.set()  # a drain under way returns
        for sub in self.subscriptions():
            sub._close()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
