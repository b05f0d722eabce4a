"""The NATS intake: a durable pull consumer that hands the engine intents under the account's lease.

Intents are fetched in batches only while this instance holds the lease; a batch is acknowledged
only after the engine handled it and ``settle`` returned (the journal made its records durable and
the results went out), so an executor that dies in between gets them redelivered and answers them
again from its journal. An intent that cannot be decoded is answered with a rejection on its
results subject and acknowledged, never handed to the engine.

It is apart from :mod:`execsvc.bus.nats` (the bus object: connection, streams, the bus protocol)
because it is the one piece with a loop of its own.

Error handling: a failed fetch or ack (NATS away or reconnecting) is logged, counted and tried again;
the unacknowledged intents come back. Resource handling: ``run`` owns the pull subscription and drops
it on the way out, however it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from execsvc.bus.base import Handler
from execsvc.bus.connection import give_back, pull_subscription
from execsvc.bus.lease import Lease
from execsvc.bus.subjects import intents_wildcard, results_subject, stream_name, token
from execsvc.bus.wire import aged_from_stream, decode_submission, delivery_key, rejection
from execsvc.config import NatsConfig
from execsvc.errors import FieldError
from execsvc.journal.codec import encode_event

log = logging.getLogger("execsvc.nats")


class IntakeStats:
    """What the intake consumer did: for ``/status`` and ``/metrics``."""

    def __init__(self) -> None:
        self.delivered = 0
        self.redelivered = 0
        self.acked = 0
        self.undecodable = 0
        self.lag = 0
        self.fetch_errors = 0
        self.publish_retries = 0
        # results a stop with NATS down gave up: the intents of their batch are not acknowledged
        self.results_given_up = 0

    def count_fetch_error(self) -> None:
        """One more failed fetch (or subscription) while NATS was away."""
        self.fetch_errors += 1


class Intake:
    """See the module docstring.

    Args:
        js: the JetStream context (fetches intents, publishes rejections of undecodable ones).
        config: ``bus.nats``.
        lease: the account's lease; nothing is taken while it is not valid.
        handler: the engine's batch handler (a list of ``Submission``).
        stats: counted into as intents arrive and are acknowledged.
        now_ns: the clock (ages intents by their time in the stream, stamps rejections).
        stopping: whether a stop began: the batch in hand is finished, anything fetched after is given back.
        settle: awaited after the engine handled a batch and before it is acknowledged.
    """

    def __init__(
        self,
        *,
        js: Any,
        config: NatsConfig,
        lease: Lease,
        handler: Handler,
        stats: IntakeStats,
        now_ns: Callable[[], int],
        stopping: Callable[[], bool],
        settle: Callable[[], Awaitable[None]],
    ) -> None:
        self.js = js
        self.config = config
        self.account = config.account
        self.lease = lease
        self.handler = handler
        self.stats = stats
        self.now_ns = now_ns
        self.stopping = stopping
        self.settle = settle

    async def run(self) -> None:
        """Subscribe (retrying while NATS is away), then take intents until the stop or a lost lease."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        durable = f"executor_{token(self.account)}"
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.config.ack_wait_seconds,
            max_ack_pending=self.config.fetch_batch * 8,
        )
        sub = await pull_subscription(
            self.js,
            intents_wildcard(self.account),
            durable=durable,
            stream=stream_name(self.account, "intents"),
            config=config,
            stopping=self.stopping,
            on_error=self.stats.count_fetch_error,
        )
        if sub is None:  # the stop came before NATS did: nothing was taken
            return
        try:
            await self._take_intents(sub)
        finally:
            # Drop the pull subscription here, not in the connection's drain: a fetch that a NATS
            # restart cut short can leave messages queued that nobody will read, and drain waits for
            # them (30 s) before closing. Unacked intents are redelivered to the next executor.
            try:
                await sub.unsubscribe()
            except Exception as exc:  # closing is best effort: the journal already holds everything
                log.debug("intake unsubscribe failed: %s", exc)

    async def _take_intents(self, sub: Any) -> None:
        """Fetch intents under the lease, hand them to the engine, ack them once answered."""
        from nats.errors import TimeoutError as NatsTimeout

        from execsvc.engine import Submission

        handler = self.handler
        while True:
            if self.stopping():
                return
            if not self.lease.valid():
                # not ours (yet, or any more): take nothing; a deposed instance never resumes
                if self.lease.deposed:
                    log.error("intake stopped: this instance lost the lease")
                    return
                await asyncio.sleep(self.lease.ttl / 10)
                continue
            try:
                msgs = await sub.fetch(self.config.fetch_batch, timeout=0.5)
            except NatsTimeout:
                continue
            except Exception as exc:  # NATS down or reconnecting: try again shortly
                self.stats.fetch_errors += 1
                log.warning("intake fetch failed (%s); retrying", exc)
                await asyncio.sleep(0.25)
                continue
            if self.stopping():  # fetched as the stop began: the next executor's to take
                await give_back(msgs)
                return
            submissions = []
            for msg in msgs:
                meta = msg.metadata
                self.stats.delivered += 1
                self.stats.lag = meta.num_pending
                if meta.num_delivered > 1:
                    self.stats.redelivered += 1
                headers = msg.headers or {}
                intent, errors = decode_submission(msg.data, headers, msg.subject)
                if intent is None:
                    self.stats.undecodable += 1
                    try:
                        await self._reject_undecodable(msg.subject, headers, errors)
                    except Exception as exc:  # NATS away: the message is not acked and comes back
                        log.warning(
                            "could not answer an undecodable intent (%s); it will be redelivered", exc
                        )
                    continue
                stored = meta.timestamp
                stored_ns = int(stored.timestamp() * 1_000_000) * 1000 if stored is not None else 0
                intent = aged_from_stream(intent, stored_ns, self.now_ns())
                key, square_off = delivery_key(intent, headers)
                submissions.append(Submission(intent, key, square_off=square_off))
            if not self.lease.valid():
                continue  # not acked: redelivered to whoever holds the lease
            given_up = self.stats.results_given_up
            if submissions:
                result = handler(submissions)
                if result is not None:
                    await result
                # acknowledge only once durable and the results went out too: an executor that dies
                # between the two gets the intents redelivered, and answers them again from its journal
                await self.settle()
            if self.stats.results_given_up != given_up:
                # NATS may be back for the ack: acked, an intent whose answer was given up would
                # never be delivered again, nor answered on the results stream
                log.warning("%d intents not acknowledged: their results were not published", len(msgs))
                continue
            for msg in msgs:
                try:
                    await msg.ack()
                except Exception as exc:  # redelivered later and answered from the journal
                    log.warning("ack failed (%s); the intent will be redelivered", exc)
                    continue
                self.stats.acked += 1

    async def _reject_undecodable(
        self, subject: str, headers: dict[str, str], errors: list[FieldError]
    ) -> None:
        result = rejection(subject, headers, errors, self.now_ns())
        log.warning("undecodable intent %r on %s: %s", result.intent_id, subject, result.message)
        await self.js.publish(
            results_subject(self.account, result.strategy_code, result.intent_id), encode_event(result)
        )
