"""The NATS JetStream bus: producers on many hosts, one active executor per account.

It implements the bus protocol for the two topics that cross process boundaries and keeps every
other topic (order updates, local subscribers) on an in-process :class:`MemoryBus`:

- ``intents``: ``publish`` sends to JetStream with ``Nats-Msg-Id`` = the intent id (a cancel's or a
  modify's submission key), so JetStream drops duplicates inside its window (the journal's
  idempotency covers the rest). The engine's subscription is served by a durable pull consumer; a
  batch is acknowledged only after the engine handled it and the journal made its records durable.
  An unacknowledged intent is redelivered (to this instance or to the standby that takes over) and
  answered idempotently.
- ``results``: local subscribers get results in process as before; a forwarder also publishes each
  one to ``execsvc.<account>.results.<strategy>.<intent hash>`` for remote producers and dashboards.

The intake (:mod:`execsvc.bus.intake`) consumes only while this instance holds the account's lease
(:mod:`execsvc.bus.lease`); the forwarder is :mod:`execsvc.bus.forwarder`; message bodies and
headers are built and read by :mod:`execsvc.bus.wire`.
Resource handling: ``connect`` opens the connection, streams, consumer and lease bucket;
``stop_intake`` (the first step of a clean stop) lets the intake finish the batch in hand and end;
``close`` drains and closes the connection. Background tasks run in the service's task group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from execsvc.bus.base import Handler, Overflow
from execsvc.bus.connection import close_connection, without_credentials
from execsvc.bus.forwarder import forward_results
from execsvc.bus.intake import Intake, IntakeStats
from execsvc.bus.lease import Lease
from execsvc.bus.memory import MemoryBus, MemorySubscription
from execsvc.bus.subjects import intents_wildcard, lease_key, results_wildcard, stream_name
from execsvc.bus.wire import intent_message
from execsvc.config import NatsConfig
from execsvc.events import ExecutionResult

log = logging.getLogger("execsvc.nats")

INTENTS_TOPIC = "intents"
RESULTS_TOPIC = "results"


class NatsBus:
    """See the module docstring.

    Args:
        config: ``bus.nats``.
        inner: the in-process bus for every other topic and for local result subscribers.
        now_ns: the clock (stamps rejections of undecodable messages).
    """

    def __init__(self, config: NatsConfig, *, inner: MemoryBus, now_ns: Callable[[], int]) -> None:
        self.config = config
        self.inner = inner
        self.now_ns = now_ns
        self.account = config.account
        self.nc: Any = None
        self.js: Any = None
        self.lease: Lease | None = None
        self.durable: Callable[[], Awaitable[None]] | None = None
        self.stats = IntakeStats()
        self.reconnects = 0
        self.disconnects = 0
        self._intents_handler: Handler | None = None
        self._intake: asyncio.Task[None] | None = None
        self._intake_stopping = False
        self._group: asyncio.TaskGroup | None = None

    # -- connection -------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, and create (or find) the streams and the lease bucket."""
        import nats
        from nats.js.api import KeyValueConfig, StorageType, StreamConfig
        from nats.js.errors import BadRequestError

        async def disconnected() -> None:
            self.disconnects += 1
            log.warning("NATS disconnected")

        async def reconnected() -> None:
            self.reconnects += 1
            log.warning("NATS reconnected")

        async def error(exc: Exception) -> None:
            log.warning("NATS error: %s", exc)

        self.nc = await nats.connect(
            servers=list(self.config.servers),
            name=f"execsvc-{self.account}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            connect_timeout=self.config.connect_timeout_seconds,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        self.js = self.nc.jetstream()
        for kind, subjects in (
            ("intents", [intents_wildcard(self.account)]),
            ("results", [results_wildcard(self.account)]),
        ):
            stream = StreamConfig(
                name=stream_name(self.account, kind),
                subjects=subjects,
                max_age=self.config.retention_seconds,
                duplicate_window=self.config.duplicate_window_seconds,
                storage=StorageType.FILE,
                num_replicas=self.config.replicas,
            )
            try:
                await self.js.add_stream(stream)
            except BadRequestError:
                await self.js.update_stream(stream)
        try:
            kv = await self.js.key_value(self.config.lease_bucket)
        except Exception:
            kv = await self.js.create_key_value(
                KeyValueConfig(bucket=self.config.lease_bucket, ttl=self.config.lease_ttl_seconds, history=1)
            )
        self.lease = Lease(
            kv, lease_key(self.account), self.config.lease_ttl_seconds, self.config.instance_id
        )

    async def stop_intake(self) -> None:
        """Take no more intents: the batch in hand is handled, made durable and acknowledged first.

        Intents fetched after this are given back at once (``nak``) for whoever executes next; the
        first step of a clean stop, so that nothing new starts while the service drains.
        """
        self._intake_stopping = True
        if self._intake is not None:
            await asyncio.wait([self._intake])  # a failure is the task group's to report

    async def close(self) -> None:
        """Stop the consumers and close the connection."""
        if self._intake is not None:
            self._intake.cancel()
            await asyncio.gather(self._intake, return_exceptions=True)
        await self.inner.close()
        await close_connection(self.nc)

    # -- the bus protocol -------------------------------------------------------------------------

    def start(self, group: asyncio.TaskGroup) -> None:
        """Start the results forwarder and the in-process consumers (the intake: ``start_intake``)."""
        self._group = group
        self.inner.subscribe(RESULTS_TOPIC, self._forward, name="nats-results", batch=True)
        self.inner.start(group)

    def start_intake(self) -> None:
        """Start taking intents for the engine, in the group given to ``start``.

        Apart from ``start`` because a live service reconciles with the broker first: an intent
        waiting in the stream (a failover, a restart) placed during reconciliation would be judged
        against a broker order book read before its POST arrived.
        """
        if self._intents_handler is not None and self._group is not None and self._intake is None:
            self._intake = self._group.create_task(self._consume(), name="nats-intake")

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
        """``intents``: the engine's batch handler, fed by the JetStream consumer; else in process."""
        if topic == INTENTS_TOPIC:
            self._intents_handler = handler
        return self.inner.subscribe(
            topic, handler, name=name, maxsize=maxsize, overflow=overflow, batch=batch
        )

    def unsubscribe(self, subscription: Any) -> None:
        """Stop an in-process subscription."""
        self.inner.unsubscribe(subscription)

    async def publish(self, topic: str, event: Any) -> None:
        """Intents, cancels and modifies go to JetStream (de-duplicated by message id); else in process."""
        if topic != INTENTS_TOPIC:
            await self.inner.publish(topic, event)
            return
        subject, body, headers = intent_message(self.account, event)
        await self.js.publish(subject, body, headers=headers)

    def owns(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` is the intake or one of the in-process consumer tasks."""
        return task is self._intake or self.inner.owns(task)

    def subscriptions(self) -> list[MemorySubscription]:
        """The in-process subscriptions."""
        return self.inner.subscriptions()

    async def drain(self) -> None:
        """Wait until the in-process queues are empty."""
        await self.inner.drain()

    # -- intake and results ----------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self.lease is not None and self._intents_handler is not None
        intake = Intake(
            js=self.js,
            config=self.config,
            lease=self.lease,
            handler=self._intents_handler,
            stats=self.stats,
            now_ns=self.now_ns,
            stopping=lambda: self._intake_stopping,
            settle=self._settle,
        )
        await intake.run()

    async def _settle(self) -> None:
        """Make the engine's records durable and send its results: what the intake waits for to ack."""
        if self.durable is not None:
            await self.durable()
        await self.inner.drain()

    async def _forward(self, results: list[ExecutionResult]) -> None:
        """Publish results to JetStream (:func:`~execsvc.bus.forwarder.forward_results`)."""
        await forward_results(
            self.js,
            self.account,
            results,
            stats=self.stats,
            # journaled already; a stop can't wait for NATS
            give_up=lambda: self._intake_stopping and not self.nc.is_connected,
        )

    def status(self) -> dict[str, Any]:
        """Backend, lease holder, consumer lag and redeliveries, for operators."""
        lease = self.lease
        return {
            "backend": "nats",
            "account": self.account,
            "servers": [without_credentials(url) for url in self.config.servers],
            "connected": bool(self.nc is not None and self.nc.is_connected),
            "lease": {
                "instance": lease.instance_id if lease else None,
                "active": bool(lease and lease.valid()),
                "renewals": lease.renewals if lease else 0,
            },
            "intake": {
                "delivered": self.stats.delivered,
                "acked": self.stats.acked,
                "redelivered": self.stats.redelivered,
                "undecodable": self.stats.undecodable,
                "lag": self.stats.lag,
                "fetch_errors": self.stats.fetch_errors,
            },
            "reconnects": self.reconnects,
            "disconnects": self.disconnects,
        }
