"""A process-wide limiter that queues Kite calls rather than exceed the rate limits (FACTS.md 5.1).

Categories and their sliding windows (every figure comes from :class:`RateLimitConfig`):

- ``order``: place, modify and cancel share ``orders_per_second`` (10 in 1 s) and
  ``orders_per_minute`` (400 in 60 s), as Kite counts modifications and cancels toward the same
  limits. Placements also count toward ``orders_per_day`` (5000); reaching it raises at once.
- ``quote``: ``/quote``, ``/quote/ohlc``, ``/quote/ltp``: ``quote_per_second`` (1 in 1 s).
- ``other``: every other endpoint: ``other_per_second`` (10 in 1 s).

A call is granted at time ``t`` only if fewer than ``limit`` grants lie in ``(t - window, t]``
for every window of its category, so no sliding window ever holds more than its limit. When the
call's answer arrives (:meth:`RateLimiter.done`), its grant moves to that moment: the request
reached the broker somewhere in between, and a grant kept at its start would let a request that was
slow to leave (a new connection, a stalled loop) land within one window of a later one. Waiters of
a category are served first come, first served: the head of the queue sleeps until its slot opens
while the others queue behind it. After an HTTP 429, :meth:`RateLimiter.penalize` closes a
category until ``clock() + seconds``; waiters sleep through the penalty instead of retrying.

Time is read only from the injected ``clock`` and waited only with the injected ``sleep``, so a
test with a fake clock whose sleep advances it never sleeps for real.

Error handling:
    ``acquire`` raises :class:`~execsvc.errors.BrokerRateLimitError` at once when the day's
    placements are used up (it does not wait hours), and :class:`~execsvc.errors.RateLimitDeadlineError`
    when the call's slot would come past its ``not_after``; ``note_modification`` raises
    :class:`~execsvc.errors.BrokerRejectError` for the 26th modification of an order. A waiter that
    is cancelled leaves the queue; cancellation propagates.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from execsvc.config import RateLimitConfig
from execsvc.errors import BrokerRateLimitError, BrokerRejectError, RateLimitDeadlineError

__all__ = ["CATEGORIES", "RateLimiter"]

CATEGORIES = ("order", "quote", "other")


class _Window:
    """One sliding window: at most ``limit`` grants in any ``seconds``-long interval."""

    __slots__ = ("grants", "limit", "seconds")

    def __init__(self, seconds: float, limit: int) -> None:
        self.seconds = seconds
        self.limit = limit
        self.grants: deque[float] = deque()

    def delay(self, now: float) -> float:
        grants = self.grants
        horizon = now - self.seconds
        while grants and grants[0] <= horizon:
            grants.popleft()
        if len(grants) < self.limit:
            return 0.0
        return grants[-self.limit] + self.seconds - now


class _Gate:
    """The windows, the penalty and the FIFO queue of one category."""

    __slots__ = ("closed_until", "lock", "queued", "windows")

    def __init__(self, windows: list[_Window]) -> None:
        self.windows = windows
        self.closed_until = float("-inf")
        self.lock = asyncio.Lock()  # FIFO: a new caller queues behind every waiter
        self.queued = 0  # callers holding or waiting for the lock

    def delay(self, now: float) -> float:
        wait = self.closed_until - now
        for window in self.windows:
            wait = max(wait, window.delay(now))
        return wait

    def grant(self, now: float) -> None:
        for window in self.windows:
            window.grants.append(now)

    def done(self, granted_at: float, now: float) -> None:
        # every grant is at or before now, so appending now keeps each deque sorted
        for window in self.windows:
            grants = window.grants
            # the grant is among the latest (searched from the right: a busy minute holds hundreds);
            # one already slid out of the window is not found, and counting it again errs safe
            for index in range(len(grants) - 1, -1, -1):
                if grants[index] == granted_at:
                    del grants[index]
                    break
                if grants[index] < granted_at:
                    break
            grants.append(now)


def _check_deadline(category: str, now: float, delay: float, not_after: float | None) -> None:
    if not_after is not None and now + max(delay, 0.0) > not_after:
        late = now + max(delay, 0.0) - not_after
        raise RateLimitDeadlineError(
            f"its {category} rate-limit slot would come {late:.3f} s past its deadline"
        )


class RateLimiter:
    """Kite's rate limits for the whole process; see the module docstring.

    Attributes:
        waits: per category, how many acquisitions had to wait.
        wait_seconds: per category, the total time spent waiting (by the injected clock).
        acquired: per category, how many acquisitions were granted.
    """

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        margin = config.margin_seconds
        self._gates = {
            # windows are widened by a margin: requests granted exactly one window apart can reach
            # the broker less than one window apart (network jitter), and the broker counts arrivals
            "order": _Gate(
                [
                    _Window(1.0 + margin, config.orders_per_second),
                    _Window(60.0 + margin, config.orders_per_minute),
                ]
            ),
            "quote": _Gate([_Window(1.0 + margin, config.quote_per_second)]),
            "other": _Gate([_Window(1.0 + margin, config.other_per_second)]),
        }
        self.waits = dict.fromkeys(CATEGORIES, 0)
        self.wait_seconds = dict.fromkeys(CATEGORIES, 0.0)
        self.acquired = dict.fromkeys(CATEGORIES, 0)
        self._placements = 0
        self._queued_placements = 0
        self._modifications: dict[str, int] = {}

    def _gate(self, category: str) -> _Gate:
        try:
            return self._gates[category]
        except KeyError:
            raise ValueError(f"unknown rate-limit category {category!r}; use one of {CATEGORIES}") from None

    def now(self) -> float:
        """The limiter's clock (deadlines for :meth:`acquire` are on it)."""
        return self._clock()

    async def acquire(
        self, category: str, *, placement: bool = False, not_after: float | None = None
    ) -> float:
        """Wait until a call of ``category`` fits every window, then count it.

        Args:
            category: ``order``, ``quote`` or ``other``.
            placement: an order placement (counts toward the per-day cap).
            not_after: the latest grant the caller can use (by :meth:`now`): a call whose slot,
                at its turn in the queue, would come later is refused rather than kept waiting.

        Returns:
            The grant's time, for :meth:`done` once the call is answered.

        Raises:
            BrokerRateLimitError: ``placement`` and the day's placements (granted or queued) have
                reached ``orders_per_day``.
            RateLimitDeadlineError: the slot would come past ``not_after`` (nothing is counted).
            ValueError: an unknown category.
        """
        gate = self._gate(category)
        if placement:
            cap = self.config.orders_per_day
            if self._placements + self._queued_placements >= cap:
                raise BrokerRateLimitError(
                    f"Kite allows {cap} order placements a day and {self._placements} were sent today"
                )
            self._queued_placements += 1
        try:
            if not gate.queued:  # nobody queued: a free slot is granted at once, without the lock
                now = self._clock()
                delay = gate.delay(now)
                _check_deadline(category, now, delay, not_after)
                if delay <= 0:
                    return self._grant(gate, category, now, placement)
            gate.queued += 1
            try:
                return await self._acquire_in_turn(gate, category, placement, not_after)
            finally:
                gate.queued -= 1
        finally:
            if placement:
                self._queued_placements -= 1

    async def _acquire_in_turn(
        self, gate: _Gate, category: str, placement: bool, not_after: float | None
    ) -> float:
        async with gate.lock:
            now = self._clock()
            delay = gate.delay(now)
            _check_deadline(category, now, delay, not_after)
            if delay > 0:
                started = now
                while delay > 0:
                    await self._sleep(delay)
                    now = self._clock()
                    delay = gate.delay(now)
                    _check_deadline(category, now, delay, not_after)  # a 429 may have come
                self.waits[category] += 1
                self.wait_seconds[category] += now - started
            return self._grant(gate, category, now, placement)

    def _grant(self, gate: _Gate, category: str, now: float, placement: bool) -> float:
        gate.grant(now)
        self.acquired[category] += 1
        if placement:
            self._placements += 1
        return now

    def done(self, category: str, granted_at: float) -> None:
        """The call granted at ``granted_at`` was answered (or failed): count it from now instead."""
        self._gate(category).done(granted_at, self._clock())

    def penalize(self, seconds: float, category: str = "order") -> None:
        """Close ``category`` (all order slots by default) until ``clock() + seconds``.

        Called after an HTTP 429: Kite keeps refusing until its window refreshes, so nothing of
        that category is sent before then. A longer penalty already in force is kept.
        """
        gate = self._gate(category)
        gate.closed_until = max(gate.closed_until, self._clock() + seconds)

    def closed_for(self, category: str = "order") -> float:
        """Seconds left of a penalty on ``category`` (0 when open)."""
        return max(0.0, self._gate(category).closed_until - self._clock())

    async def reopened(self, category: str = "order") -> None:
        """Return once no penalty closes ``category`` (at once when none does), waiting with the
        injected sleep: what a request refused with a 429 waits for before it is sent again."""
        while (left := self.closed_for(category)) > 0:
            await self._sleep(left)

    @property
    def placements_today(self) -> int:
        """Placements granted since start-up or the last :meth:`reset_day`."""
        return self._placements

    def modifications_left(self, order_id: str) -> int:
        """How many more modifications Kite allows for ``order_id``."""
        return self.config.modifications_per_order - self._modifications.get(order_id, 0)

    def note_modification(self, order_id: str) -> int:
        """Count a modification of ``order_id`` about to be sent; returns how many are left after it.

        Raises:
            BrokerRejectError: the order has used all ``modifications_per_order`` (25); cancel it
                and place a new one instead.
        """
        used = self._modifications.get(order_id, 0)
        cap = self.config.modifications_per_order
        if used >= cap:
            raise BrokerRejectError(
                f"order {order_id}: Kite allows {cap} modifications per order and {used} were sent; "
                "cancel it and place a new order"
            )
        self._modifications[order_id] = used + 1
        return cap - used - 1

    def restore_day(self, placements: int) -> None:
        """Count ``placements`` as sent today already (a restart mid-day: the journal knows them,
        and Kite counts them toward ``orders_per_day``)."""
        self._placements = placements

    def restore_modifications(self, used: Mapping[str, int]) -> None:
        """Count the modifications each order had before a restart (``used``, by the id its
        modifications are sent by): Kite's count of them goes on, and a fresh limiter's would
        let an order's 26th modification out."""
        for order_id, count in used.items():
            self._modifications[order_id] = max(self._modifications.get(order_id, 0), count)

    def reset_day(self) -> None:
        """Start a new trading day: the placement count and the modification counts go to zero.

        The windows are left alone (they slide by themselves).
        """
        self._placements = 0
        self._modifications.clear()
