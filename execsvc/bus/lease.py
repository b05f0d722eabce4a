"""One active executor per account: a lease in a JetStream key-value bucket.

The lease is a key (``executor.<account>``) in a bucket whose entries expire ``ttl`` seconds after
their last write. An instance becomes active by *creating* the key (which fails while another holds
it), and stays active by *updating* it every ``ttl / 3`` with the revision it last wrote: an update
from anyone else's revision fails. So at most one instance holds the lease at a time.

An active instance trusts its lease only until ``last successful renewal + ttl - margin``; past
that (NATS unreachable, a stalled process) it stops taking intents before anyone else can take
over, and a renewal that finds another holder is final: the instance is deposed. A standby polls
``create`` every ``ttl / 5`` and so takes over within about ``ttl`` of the holder's last renewal.

Resource handling: ``hold`` runs in the service's task group and ends when cancelled or deposed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from execsvc.errors import ServiceError

log = logging.getLogger("execsvc.lease")


class LeaseLostError(ServiceError):
    """This instance no longer holds the account's lease: it must stop executing."""


class Lease:
    """Acquire and keep the account's lease; see the module docstring.

    Args:
        kv: a nats-py KeyValue bucket created with ``ttl``.
        key: the lease key.
        ttl: seconds an entry lives after its last write.
        instance_id: who we are (shown to operators as the holder).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        kv: Any,
        key: str,
        ttl: float,
        instance_id: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kv = kv
        self.key = key
        self.ttl = ttl
        self.instance_id = instance_id or f"{socket.gethostname()}:{id(self):x}"
        self.clock = clock
        self.revision = 0
        self.valid_until = 0.0
        self.acquired_at = 0.0
        self.renewals = 0
        self.deposed = False
        self.active = asyncio.Event()

    @property
    def margin(self) -> float:
        """How long before expiry an unrenewed lease stops being trusted."""
        return self.ttl / 4

    def valid(self) -> bool:
        """Whether this instance may execute now."""
        return self.active.is_set() and self.clock() < self.valid_until

    def _value(self) -> bytes:
        return json.dumps({"holder": self.instance_id, "renewed": time.time()}).encode()

    async def holder(self) -> str | None:
        """Who holds the lease now (None when nobody does)."""
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self.kv.get(self.key)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        try:
            return str(json.loads(entry.value).get("holder"))
        except (ValueError, AttributeError):
            return None

    async def try_acquire(self) -> bool:
        """Create the key if nobody holds it; True when we now hold the lease."""
        from nats.js.errors import KeyWrongLastSequenceError

        started = self.clock()
        try:
            self.revision = await self.kv.create(self.key, self._value())
        except KeyWrongLastSequenceError:
            return False
        self.valid_until = started + self.ttl - self.margin
        self.acquired_at = started
        self.active.set()
        log.warning("lease %s acquired by %s", self.key, self.instance_id)
        return True

    async def acquire(self, poll: float | None = None) -> None:
        """Wait (as a standby) until the lease is ours.

        NATS out of reach (a request that times out, JetStream restarting) is waited out, as the
        holder's renewals wait it out: a standby that gave up on a NATS restart would leave the
        account without one.
        """
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import ServiceUnavailableError

        interval = poll if poll is not None else self.ttl / 5
        announced = False
        while True:
            try:
                if await self.try_acquire():
                    return
                if not announced:
                    log.warning("standby: lease %s is held by %s", self.key, await self.holder())
                    announced = True
            except (NatsTimeout, NoRespondersError, ServiceUnavailableError) as exc:
                log.warning("standby: lease %s could not be read (%s); trying again", self.key, exc)
            await asyncio.sleep(interval)

    async def renew(self) -> None:
        """Write the lease again with our last revision.

        Raises:
            LeaseLostError: someone else holds it now.
        """
        from nats.js.errors import KeyWrongLastSequenceError

        started = self.clock()
        try:
            self.revision = await self.kv.update(self.key, self._value(), last=self.revision)
        except KeyWrongLastSequenceError as exc:
            self.deposed = True
            self.active.clear()
            raise LeaseLostError(f"lease {self.key} was taken by {await self.holder()}") from exc
        self.renewals += 1
        self.valid_until = started + self.ttl - self.margin
        log.debug("lease %s renewed (revision %d)", self.key, self.revision)

    async def hold(self, on_lost: Callable[[str], None]) -> None:
        """Renew every ``ttl / 3`` until cancelled; call ``on_lost`` (once) when the lease is gone."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.renew()
            except LeaseLostError as exc:
                on_lost(str(exc))
                return
            except Exception as exc:  # NATS unreachable: keep trying while the lease is still ours
                if self.clock() >= self.valid_until:
                    self.active.clear()
                    on_lost(f"lease {self.key} could not be renewed before it expired: {exc}")
                    return
                log.warning("lease renewal failed (%s); retrying", exc)

    async def release(self) -> None:
        """Give the lease up (a clean stop lets the standby take over at once)."""
        if not self.active.is_set():
            return
        self.active.clear()
        try:
            await self.kv.delete(self.key, last=self.revision)
        except Exception as exc:  # best effort: the entry expires anyway
            log.warning("lease release failed (%s); it expires in %.1f s", exc, self.ttl)
