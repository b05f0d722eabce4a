"""Results reach callers and the bus only once their journal record is durable.

Every result the engine emits is noted here with its journal ``seq``. A caller waiting on a
submission (by its key) is answered with the intent's next result; that answer, like every result
published to the bus, is held until the journal reports the record durable (``release``). Answers
built from results already journaled (a duplicate intent, a cancel of a finished order) carry the
seq of the very result they return, so they too are released only once it is on disk.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from execsvc.errors import ServiceNotRunningError
from execsvc.events import ExecutionResult


class Answers:
    """Waiters, pending answers and the outbox of results; see the module docstring.

    Args:
        publish: sends a durable result to the bus.
        durable_seq: the journal's durable seq now.
    """

    def __init__(
        self, publish: Callable[[ExecutionResult], Awaitable[None]], durable_seq: Callable[[], int]
    ) -> None:
        self._publish = publish
        self._durable_seq = durable_seq
        self._waiters: dict[str, list[asyncio.Future[ExecutionResult]]] = {}
        self._pending: dict[str, list[str]] = {}
        self._answers: deque[tuple[int, str, ExecutionResult]] = deque()
        self._outbox: deque[tuple[int, ExecutionResult]] = deque()
        self.first_seq: dict[str, int] = {}
        self.latest_seq: dict[str, int] = {}
        self.republished = False
        self.has_subscribers: Callable[[], bool] | None = None
        self._publishable = asyncio.Event()
        self._published = asyncio.Event()
        self._closed = False

    def wait_for(self, key: str) -> asyncio.Future[ExecutionResult]:
        """A future for the answer to the submission ``key``."""
        fut: asyncio.Future[ExecutionResult] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(fut)
        return fut

    def expect(self, intent_id: str, key: str) -> None:
        """Answer the waiter ``key`` with the next result emitted for ``intent_id``."""
        self._pending.setdefault(intent_id, []).append(key)

    def noted(self, seq: int, result: ExecutionResult) -> None:
        """A result was journaled at ``seq``: queue it for the bus and for the callers expecting it."""
        intent_id = result.intent_id
        self.first_seq.setdefault(intent_id, seq)
        self.latest_seq[intent_id] = seq
        self._outbox.append((seq, result))
        keys = self._pending.pop(intent_id, None)
        if keys is not None:
            for key in keys:
                self._answers.append((seq, key, result))

    def answer_with(self, result: ExecutionResult, key: str, seq: int, *, publish: bool = True) -> None:
        """Answer ``key`` with a result journaled earlier at ``seq`` (released once that is durable).

        The result is also published again: a producer in another process learns the answer to a
        repeated intent only from the bus (delivery is at least once; consumers are idempotent).
        ``publish=False`` answers only the waiter, for a result that was never journaled.
        """
        self._answers.append((seq, key, result))
        if publish:
            self._outbox.append((seq, result))
            self.republished = True
        if seq <= self._durable_seq():
            self._release_answers(self._durable_seq())

    def released_first(self, intent_id: str, first: ExecutionResult | None) -> ExecutionResult | None:
        """``first`` if its record is durable (the fast path of a repeated intent), else None."""
        if first is None or self.first_seq.get(intent_id, -1) > self._durable_seq():
            return None
        return first

    def fail(self, key: str, exc: BaseException) -> None:
        """Tell the waiters of ``key`` that their submission could not be handled."""
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_exception(exc)

    def fail_all(self, why: str) -> None:
        """Tell every caller still waiting that no answer will come (the service stopped or was killed).

        A :meth:`published` under way returns too: the publisher task is gone.
        """
        self._closed = True
        self._published.set()
        waiters, self._waiters = self._waiters, {}
        for key, futures in waiters.items():
            for fut in futures:
                if not fut.done():
                    fut.set_exception(ServiceNotRunningError(f"{why} before submission {key!r} was answered"))

    def _release_answers(self, durable_seq: int) -> None:
        kept: deque[tuple[int, str, ExecutionResult]] = deque()
        for seq, key, result in self._answers:
            if seq <= durable_seq:
                for fut in self._waiters.pop(key, ()):
                    if not fut.done():
                        fut.set_result(result)
            else:
                kept.append((seq, key, result))
        self._answers = kept

    async def release(self, durable_seq: int) -> None:
        """Hand durable results to their waiters, and wake the publisher (the journal calls this).

        It never waits for the bus: a results subscriber that blocks (say, one that waits for the
        answer to an intent of its own) must not stop the journal writer that would answer it.
        """
        answers = self._answers
        if answers and answers[0][0] <= durable_seq:
            if answers[-1][0] <= durable_seq:
                while answers:
                    _, key, result = answers.popleft()
                    for fut in self._waiters.pop(key, ()):
                        if not fut.done():
                            fut.set_result(result)
            else:
                self._release_answers(durable_seq)
        outbox = self._outbox
        if outbox and outbox[0][0] <= durable_seq:
            if self.has_subscribers is not None and not self.has_subscribers():
                # nobody listens: drop what is durable here rather than wake the publisher for it
                while outbox and outbox[0][0] <= durable_seq:
                    outbox.popleft()
                return
            self._publishable.set()

    async def publisher(self) -> None:
        """Publish durable results to the bus, in order; runs until cancelled (the service owns it)."""
        outbox = self._outbox
        while True:
            await self._publishable.wait()
            self._publishable.clear()
            quiet = self.has_subscribers is not None and not self.has_subscribers()
            while outbox and outbox[0][0] <= self._durable_seq():
                _, result = outbox.popleft()
                if not quiet:
                    await self._publish(result)
            self._published.set()

    async def published(self) -> None:
        """Wait until every durable result has been handed to the bus, or the service closes."""
        while not self._closed and self._outbox and self._outbox[0][0] <= self._durable_seq():
            self._published.clear()
            self._publishable.set()
            await self._published.wait()

    async def publish_republished(self) -> None:
        """Publish the results of repeated intents that are durable already (none may wait for a commit)."""
        if self.republished:
            self.republished = False
            await self.release(self._durable_seq())

    def pending_release(self) -> bool:
        """Whether any answer or result is still held back."""
        return bool(self._answers or self._outbox)

    def new_day(self) -> None:
        """The journal file changed: seqs start again (call only when nothing is held back)."""
        self.first_seq.clear()
        self.latest_seq.clear()
