"""The bus protocol: publish events on topics, subscribe handlers to topics.

Delivery is in order per producer and at least once; consumers are idempotent on ids, so a network
bus (NATS JetStream) can stand in for the in-process one without changing callers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

Overflow = Literal["block", "drop"]
"""What a full subscriber queue does: ``block`` makes publishers wait (the journal's and the
engine's queues: nothing may be lost); ``drop`` discards the oldest queued event and counts it
(metrics, dashboards: freshness beats completeness)."""

Handler = Callable[[Any], Awaitable[None] | None]


class Subscription(Protocol):
    """A subscriber's view of its queue and counters."""

    name: str
    topic: str
    maxsize: int
    overflow: Overflow
    delivered: int
    dropped: int
    failed: int

    def depth(self) -> int:
        """Events queued and not yet handled."""
        ...


class Bus(Protocol):
    """Publish/subscribe with bounded queues."""

    async def publish(self, topic: str, event: Any) -> None:
        """Queue ``event`` for every subscriber of ``topic``; waits while a ``block`` queue is full."""
        ...

    def subscribe(
        self,
        topic: str,
        handler: Handler,
        *,
        name: str,
        maxsize: int | None = None,
        overflow: Overflow = "block",
        batch: bool = False,
    ) -> Subscription:
        """Call ``handler`` for each event on ``topic`` (or with a list of events when ``batch``)."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to a subscriber; events still queued for it are discarded."""
        ...

    async def drain(self) -> None:
        """Wait until every queue is empty and every handler is idle."""
        ...
