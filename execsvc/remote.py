"""``RemoteExecution``: the producer client for strategy runners in other processes or hosts.

    async with RemoteExecution("nats://10.0.0.5:4222", "acct1") as ex:
        result = await ex.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1",
                                                     side="BUY", qty=10, intent_id="s1-0001"))

The same call shape as the embedded library. The intent is published to JetStream with
``Nats-Msg-Id`` = its intent id (generated when empty), so sending it again is safe: JetStream drops
the copy inside its window and the executor's journal answers any later one with the first result.
The answer is the intent's first result; an intent already executed is answered from the results
stream at once. With no executor holding the account's lease, ``NoActiveExecutorError`` is raised
before anything is sent; a publish JetStream refuses (restarting, say) is sent again for up to the
timeout, then ``RemoteUnavailableError``; with no answer in time, ``RemoteTimeoutError``. An intent without a
``ts_init`` is stamped with this host's clock as it is sent: one that waits in the stream longer than
the executor's ``execution.max_intent_age_seconds`` (while it restarts, say) is REJECTED ``stale``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from types import TracebackType
from typing import Any

import msgspec

from execsvc.bus.connection import close_connection
from execsvc.bus.subjects import (
    MSG_ID_HEADER,
    intents_subject,
    lease_key,
    results_subject,
    results_wildcard,
    stream_name,
)
from execsvc.bus.wire import intent_body, non_finite_header
from execsvc.errors import ServiceError
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.json_input import UNREADABLE_JSON

_decode_result = msgspec.json.Decoder(ExecutionResult).decode
_FIRST_RESULT_SCAN = 64  # an intent has a handful of results; more is a flood, not an answer
log = logging.getLogger(__name__)


def _read_result(data: bytes, subject: str) -> ExecutionResult | None:
    """The result a message carries, or None (logged) for a message that is not one.

    Besides ``DecodeError``, msgspec raises ``UnicodeDecodeError`` for bytes that are not UTF-8 and
    ``RecursionError`` for nesting deeper than it recurses: one bad message on the results stream
    must not end the subscription or fail the caller's ``execute_intent``.
    """
    try:
        return _decode_result(data)
    except UNREADABLE_JSON as exc:
        log.warning("ignoring a message on %s that is not a result: %s", subject, exc)
        return None


class NoActiveExecutorError(ServiceError):
    """No execution service holds the account's lease: nothing would execute the intent."""


class RemoteTimeoutError(ServiceError):
    """No result arrived in time; the intent may still execute (resend it with the same intent id)."""


class RemoteUnavailableError(ServiceError):
    """JetStream did not take the intent within the timeout (restarting, no stream for the account,
    the connection lost); send it again with the same intent id: a copy it did take is answered once."""


_PUBLISH_BACKOFF = (0.05, 1.0)  # seconds: first wait after a refused publish, and the longest


class RemoteExecution:
    """Submit intents to the account's active executor over NATS JetStream; see the module docstring.

    Args:
        servers: one NATS URL or a list.
        account: the broker account (as in the executor's ``bus.nats.account``).
        timeout: seconds to wait for a result.
        lease_bucket: the executor's ``bus.nats.lease_bucket``.
    """

    def __init__(
        self,
        servers: str | list[str],
        account: str,
        *,
        timeout: float = 10.0,
        lease_bucket: str = "execsvc_leases",
    ) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.account = account
        self.timeout = timeout
        self.lease_bucket = lease_bucket
        self.nc: Any = None
        self.js: Any = None
        self._kv: Any = None
        self._holder: tuple[float, str | None] = (0.0, None)
        self._waiters: dict[str, list[asyncio.Future[ExecutionResult]]] = {}

    async def __aenter__(self) -> RemoteExecution:
        import nats

        self.nc = await nats.connect(
            servers=self.servers, max_reconnect_attempts=-1, reconnect_time_wait=0.25
        )
        self.js = self.nc.jetstream()
        await self.nc.subscribe(results_wildcard(self.account), cb=self._on_result)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await close_connection(self.nc)

    async def _on_result(self, msg: Any) -> None:
        result = _read_result(msg.data, msg.subject)
        if result is None:
            return
        for fut in self._waiters.pop(result.intent_id, ()):
            if not fut.done():
                fut.set_result(result)

    async def active_executor(self) -> str | None:
        """The instance holding the account's lease, or None."""
        from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError

        try:
            if self._kv is None:
                self._kv = await self.js.key_value(self.lease_bucket)
            entry = await self._kv.get(lease_key(self.account))
        except (KeyNotFoundError, BucketNotFoundError, NotFoundError):
            return None
        if not entry.value:
            return None
        try:
            value = json.loads(entry.value)
        except ValueError:
            return None
        holder = value.get("holder") if isinstance(value, dict) else None
        return str(holder) if holder else None  # not "None": an entry that names no one is no holder

    async def _first_result(self, intent: OrderIntent) -> ExecutionResult | None:
        """The intent's first result in the results stream, or None when there is none (yet).

        The first *result for this intent* on its subject, not merely the first message there: a
        message that is not a result (or names another intent) is skipped, else it would hide the
        answer from every retry, each ending in ``RemoteTimeoutError``. At most
        ``_FIRST_RESULT_SCAN`` messages are looked at.
        """
        from nats.js.errors import NotFoundError

        subject = results_subject(self.account, intent.strategy_code, intent.intent_id)
        stream = stream_name(self.account, "results")
        seq = 1
        for _ in range(_FIRST_RESULT_SCAN):
            try:
                msg = await self.js.get_msg(stream, seq=seq, subject=subject, next=True)
            except NotFoundError:
                return None
            result = _read_result(msg.data, subject) if msg.data else None
            if result is not None and result.intent_id == intent.intent_id:
                return result
            if result is not None:
                log.warning(
                    "ignoring a result for %s on the subject of %s", result.intent_id, intent.intent_id
                )
            seq = msg.seq + 1
        return None

    async def _checked_holder(self) -> str | None:
        # the lease is read at most once a second: a producer sending thousands of intents must not
        # double its round trips for it
        checked_at, holder = self._holder
        now = asyncio.get_running_loop().time()
        if holder is None or now - checked_at > 1.0:
            holder = await self.active_executor()
            self._holder = (now, holder)
        return holder

    async def _publish(self, intent: OrderIntent, budget: float) -> Any:
        """Publish an intent to its stream and return JetStream's acknowledgement.

        A publish JetStream refused (no stream answered: 'no responders', which nats-py reports as
        ``NoStreamResponseError``; JetStream restarting: 503) stored nothing, so it is sent again,
        backing off, for up to ``budget`` seconds: a producer rides out a NATS restart instead of
        failing the intent. Sending again is safe in any case: the copy carries the same
        ``Nats-Msg-Id`` and the executor answers an intent once.

        Raises:
            RemoteUnavailableError: still refused at the end of ``budget``, or the connection failed.
            TimeoutError: no acknowledgement (JetStream may have stored it).
        """
        from nats.errors import Error as NatsError
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        delay, longest = _PUBLISH_BACKOFF
        subject = intents_subject(self.account, intent.strategy_code)
        payload = intent_body(intent)  # inf and nan as their text: refused by name, not dropped
        odd = non_finite_header(intent)  # and those in metadata named, as the service's bus does
        while True:
            try:
                return await self.js.publish(
                    subject, payload, headers={MSG_ID_HEADER: intent.intent_id, **odd}
                )
            except NatsTimeout:
                raise
            except (NoRespondersError, NoStreamResponseError, ServiceUnavailableError) as exc:
                left = deadline - loop.time()
                if left <= 0:
                    raise RemoteUnavailableError(
                        f"JetStream did not take intent {intent.intent_id} within {budget:.1f} s "
                        f"({type(exc).__name__}); send it again with the same intent id"
                    ) from exc
                log.warning(
                    "JetStream refused intent %s (%s): sending it again for %.1f s more",
                    intent.intent_id, type(exc).__name__, left,
                )  # fmt: skip
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, longest)
            except NatsError as exc:  # closed or draining connection, a bad reply: not ours to retry
                raise RemoteUnavailableError(
                    f"intent {intent.intent_id} may not have reached JetStream ({type(exc).__name__}: "
                    f"{exc}); send it again with the same intent id"
                ) from exc

    async def execute_intent(
        self,
        intent: OrderIntent,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the service's call shape, plus a deadline
    ) -> ExecutionResult:
        """Send an intent and wait for its first result.

        ``timeout`` (else the client's) bounds the whole call: a publish JetStream refused and sent
        again, then the wait for the result.

        Raises:
            NoActiveExecutorError: no executor holds the account's lease.
            RemoteUnavailableError: JetStream did not take it within the timeout.
            RemoteTimeoutError: no result within the timeout.
        """
        if not intent.intent_id:
            intent = msgspec.structs.replace(intent, intent_id=uuid.uuid4().hex)
        if intent.ts_init == 0:  # its age (execution.max_intent_age_seconds) counts from here
            intent = msgspec.structs.replace(intent, ts_init=time.time_ns())
        holder = await self._checked_holder()
        if holder is None:
            raise NoActiveExecutorError(
                f"no execution service holds the lease of account {self.account!r}: "
                f"intent {intent.intent_id} was not sent"
            )
        loop = asyncio.get_running_loop()
        budget = timeout or self.timeout
        deadline = loop.time() + budget  # one timeout for taking it and answering it, not one each
        fut: asyncio.Future[ExecutionResult] = loop.create_future()
        self._waiters.setdefault(intent.intent_id, []).append(fut)
        try:
            ack = await self._publish(intent, budget)
            if ack.duplicate:  # sent before: its result may already be in the stream
                known = await self._first_result(intent)
                if known is not None:
                    return known
            try:
                return await asyncio.wait_for(asyncio.shield(fut), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                # sent before JetStream's window: the executor answered from its journal, so the
                # first result is in the stream, not on its way
                known = await self._first_result(intent)
                if known is not None:
                    return known
                raise
        except TimeoutError as exc:
            raise RemoteTimeoutError(
                f"no result for intent {intent.intent_id} within {budget:.1f} s "
                f"(executor {holder}); send it again with the same intent id"
            ) from exc
        finally:
            waiters = self._waiters.get(intent.intent_id)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiters[intent.intent_id]
