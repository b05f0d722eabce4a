"""The Kite rate limiter on fake clocks: sliding windows never exceeded, FIFO, penalties, caps.

No test sleeps for real: ``JumpClock.sleep`` advances the clock at once, ``ManualClock.sleep``
blocks until the test advances it.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable

import pytest

from execsvc.config import RateLimitConfig
from execsvc.errors import BrokerRateLimitError, BrokerRejectError
from execsvc.executors.kite import RateLimiter

GUARD = 5.0  # seconds: a hang guard only


class JumpClock:
    """A clock whose sleep jumps it forward."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ManualClock:
    """A clock that moves only when the test calls ``advance``; sleepers wake when it passes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in self.sleepers:
            if deadline <= self.now and not future.done():
                future.set_result(None)
        self.sleepers = [(d, f) for d, f in self.sleepers if not f.done()]


async def eventually(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), GUARD)


def worst_window(times: list[float], seconds: float) -> int:
    """The most grants in any window ``(t - seconds, t]`` ending at a grant."""
    ordered = sorted(times)
    return max(i + 1 - bisect.bisect_right(ordered, t - seconds) for i, t in enumerate(ordered))


def limiter(clock: JumpClock | ManualClock, **limits: float) -> RateLimiter:
    return RateLimiter(RateLimitConfig(**{"margin_seconds": 0.0, **limits}), clock=clock, sleep=clock.sleep)


async def test_a_burst_of_1000_orders_never_exceeds_10_per_second_nor_400_per_minute() -> None:
    clock = JumpClock()
    rl = limiter(clock)
    grants: list[tuple[int, float]] = []

    async def order(n: int) -> None:
        await rl.acquire("order", placement=n % 3 == 0)
        grants.append((n, clock()))

    await asyncio.wait_for(asyncio.gather(*(order(n) for n in range(1000))), GUARD)

    times = [t for _, t in grants]
    assert [n for n, _ in grants] == list(range(1000))  # first come, first served
    assert worst_window(times, 1.0) == 10
    assert worst_window(times, 60.0) == 400
    start = 1000.0
    # As fast as the limits allow: 400 in the first 40 s, then wait for the minute, and so on.
    assert times[399] - start == pytest.approx(39.0)
    assert times[400] - start == pytest.approx(60.0)
    assert times[-1] - start == pytest.approx(139.0)
    assert rl.acquired["order"] == 1000
    assert rl.waits["order"] == 99 and rl.wait_seconds["order"] == pytest.approx(sum(clock.sleeps))
    assert rl.placements_today == 334


async def test_modifications_and_cancels_share_the_order_windows() -> None:
    clock = JumpClock()
    rl = limiter(clock, orders_per_second=2)
    times = []
    for placement in (True, False, False, True):
        await rl.acquire("order", placement=placement)
        times.append(clock())
    assert worst_window(times, 1.0) == 2
    assert times[-1] - times[0] == pytest.approx(1.0)
    assert rl.placements_today == 2


@pytest.mark.parametrize(("category", "per_second"), [("quote", 1), ("other", 10)])
async def test_quote_and_other_windows(category: str, per_second: int) -> None:
    clock = JumpClock()
    rl = limiter(clock)
    times = []
    for _ in range(5 * per_second):
        await rl.acquire(category)
        times.append(clock())
    assert worst_window(times, 1.0) == per_second
    assert times[-1] - times[0] == pytest.approx(4.0)
    assert rl.acquired[category] == 5 * per_second and rl.acquired["order"] == 0


async def test_categories_do_not_block_each_other() -> None:
    clock = ManualClock()
    rl = limiter(clock)
    await rl.acquire("quote")
    waiting = asyncio.create_task(rl.acquire("quote"))
    await eventually(lambda: len(clock.sleepers) == 1)
    await asyncio.wait_for(rl.acquire("order"), GUARD)
    await asyncio.wait_for(rl.acquire("other"), GUARD)
    assert not waiting.done()
    clock.advance(1.0)
    await asyncio.wait_for(waiting, GUARD)


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = ManualClock()
    rl = limiter(clock, orders_per_second=1)
    order: list[str] = []

    async def take(name: str) -> None:
        await rl.acquire("order")
        order.append(name)

    await take("first")
    tasks = [asyncio.create_task(take(name)) for name in ("a", "b", "c")]
    await eventually(lambda: len(clock.sleepers) == 1)
    late = asyncio.create_task(take("late"))
    for _ in range(4):
        clock.advance(1.0)
        await eventually(lambda: len(clock.sleepers) == 1 or len(order) == 5)
    await asyncio.wait_for(asyncio.gather(*tasks, late), GUARD)
    assert order == ["first", "a", "b", "c", "late"]


async def test_a_newcomer_never_takes_the_slot_a_waiter_is_woken_for() -> None:
    # a free slot is granted without the lock only when nobody is queued: here the waiter's slot
    # has opened but its task has not run yet, and the newcomer must still queue behind it
    clock = ManualClock()
    rl = limiter(clock, orders_per_second=1)
    order: list[str] = []

    async def take(name: str) -> None:
        await rl.acquire("order")
        order.append(name)

    await take("first")
    waiter = asyncio.create_task(take("waiter"))
    await eventually(lambda: len(clock.sleepers) == 1)
    clock.advance(1.0)  # the waiter's slot is free from now, and its sleep is over
    newcomer = asyncio.create_task(take("newcomer"))
    clock_moves = asyncio.create_task(_advance_while_sleeping(clock))
    try:
        await asyncio.wait_for(asyncio.gather(waiter, newcomer), GUARD)
    finally:
        clock_moves.cancel()
        await asyncio.gather(clock_moves, return_exceptions=True)
    assert order == ["first", "waiter", "newcomer"]


async def _advance_while_sleeping(clock: ManualClock) -> None:
    while True:
        if clock.sleepers:
            clock.advance(1.0)
        await asyncio.sleep(0)


async def test_penalize_closes_the_order_gate_without_a_retry_loop() -> None:
    clock = JumpClock(start=0.0)
    rl = limiter(clock)
    await rl.acquire("order")
    rl.penalize(5.0)
    assert rl.closed_for("order") == 5.0 and rl.closed_for("quote") == 0.0
    await asyncio.wait_for(rl.acquire("quote"), GUARD)  # other categories stay open
    assert clock() == 0.0
    await asyncio.wait_for(rl.acquire("order"), GUARD)
    assert clock() == 5.0
    assert clock.sleeps == [5.0]  # one sleep through the penalty, no tight loop
    rl.penalize(1.0)
    rl.penalize(0.5)  # a shorter penalty does not shorten the one in force
    assert rl.closed_for() == 1.0


async def test_penalty_extends_a_waiter_already_sleeping() -> None:
    clock = ManualClock()
    rl = limiter(clock, orders_per_second=1)
    await rl.acquire("order")
    waiter = asyncio.create_task(rl.acquire("order"))
    await eventually(lambda: len(clock.sleepers) == 1)
    rl.penalize(3.0)
    clock.advance(1.0)
    await eventually(lambda: len(clock.sleepers) == 1)  # woke, saw the penalty, sleeps again
    assert not waiter.done()
    clock.advance(2.0)
    await asyncio.wait_for(waiter, GUARD)
    assert clock() == 3.0


async def test_day_cap_raises_at_once_and_counts_queued_placements() -> None:
    clock = ManualClock()
    rl = limiter(clock, orders_per_day=3, orders_per_second=1)
    await rl.acquire("order", placement=True)
    queued = [asyncio.create_task(rl.acquire("order", placement=True)) for _ in range(2)]
    await eventually(lambda: len(clock.sleepers) == 1)
    with pytest.raises(BrokerRateLimitError, match="3 order placements a day"):
        await rl.acquire("order", placement=True)  # 1 sent + 2 queued: no waiting for hours
    assert clock() == 0.0
    for _ in range(2):
        clock.advance(1.0)
        await eventually(lambda: len(clock.sleepers) == 1 or all(t.done() for t in queued))
    await asyncio.wait_for(asyncio.gather(*queued), GUARD)
    assert rl.placements_today == 3
    clock.advance(1.0)
    await asyncio.wait_for(rl.acquire("order"), GUARD)  # modify/cancel still pass
    with pytest.raises(BrokerRateLimitError):
        await rl.acquire("order", placement=True)
    rl.reset_day()
    clock.advance(1.0)
    await asyncio.wait_for(rl.acquire("order", placement=True), GUARD)
    assert rl.placements_today == 1


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    clock = ManualClock()
    rl = limiter(clock, orders_per_second=1, orders_per_day=2)
    await rl.acquire("order", placement=True)
    first = asyncio.create_task(rl.acquire("order", placement=True))
    await eventually(lambda: len(clock.sleepers) == 1)
    second = asyncio.create_task(rl.acquire("order"))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await eventually(lambda: len(clock.sleepers) == 2)  # the next in line took over the wait
    clock.advance(1.0)
    await asyncio.wait_for(second, GUARD)
    assert rl.acquired["order"] == 2
    clock.advance(1.0)
    await asyncio.wait_for(rl.acquire("order", placement=True), GUARD)  # the cancelled one freed its slot


def test_25_modifications_per_order() -> None:
    rl = RateLimiter(RateLimitConfig())
    assert rl.modifications_left("A1") == 25
    for n in range(25):
        assert rl.note_modification("A1") == 24 - n
    assert rl.modifications_left("A1") == 0
    with pytest.raises(BrokerRejectError, match="order A1: Kite allows 25 modifications"):
        rl.note_modification("A1")
    assert rl.modifications_left("B2") == 25
    rl.reset_day()
    assert rl.modifications_left("A1") == 25


async def test_unknown_category() -> None:
    rl = RateLimiter(RateLimitConfig())
    with pytest.raises(ValueError, match="historical"):
        await rl.acquire("historical")


async def test_a_call_answered_late_counts_from_its_answer() -> None:
    """A request slow to leave (a new connection) may reach the broker late: it counts from its answer."""
    clock = JumpClock()
    rl = limiter(clock, orders_per_second=10)
    start = clock.now
    grants = [await rl.acquire("order") for _ in range(10)]
    clock.now = start + 0.15
    rl.done("order", grants[0])  # the first was answered only now
    for granted in grants[1:]:
        rl.done("order", granted)  # (the same moment: they all count from start + 0.15)
    clock.now = start + 1.0
    await asyncio.wait_for(rl.acquire("order"), GUARD)
    assert clock.now == pytest.approx(start + 1.15)  # not start + 1.0: a window after the answers


async def test_done_with_a_grant_already_out_of_the_window_only_errs_on_the_safe_side() -> None:
    clock = JumpClock()
    rl = limiter(clock, orders_per_second=1)
    granted = await rl.acquire("order")
    clock.now += 5.0  # the grant slid out of every window while the call hung
    rl.done("order", granted)
    await asyncio.wait_for(rl.acquire("order"), GUARD)
    assert clock.now == pytest.approx(granted + 6.0)  # counted from the answer: one more second


async def test_reopened_waits_out_a_penalty_on_the_limiters_clock() -> None:
    clock = ManualClock()
    rl = limiter(clock)
    await asyncio.wait_for(rl.reopened("order"), GUARD)  # no penalty: at once
    rl.penalize(2.0)
    waiter = asyncio.create_task(rl.reopened("order"))
    await eventually(lambda: len(clock.sleepers) == 1)
    rl.penalize(3.0)  # a longer penalty while it waits: it waits that out too
    clock.advance(2.0)
    await eventually(lambda: len(clock.sleepers) == 1)
    assert not waiter.done()
    clock.advance(1.0)
    await asyncio.wait_for(waiter, GUARD)
    assert rl.closed_for("order") == 0.0 and rl.acquired["order"] == 0  # it took no slot


async def test_a_cancel_is_never_refused_by_the_limiter_only_queued() -> None:
    """A cancel (an order request that is no placement, with no deadline) waits through a full
    window, a 429's penalty and the day's placements used up; only a placement is refused."""
    clock = JumpClock(start=0.0)
    rl = limiter(clock, orders_per_day=1, orders_per_second=1)
    await rl.acquire("order", placement=True)
    rl.penalize(5.0)
    with pytest.raises(BrokerRateLimitError):
        await rl.acquire("order", placement=True)
    await asyncio.wait_for(rl.acquire("order"), GUARD)
    assert clock() == 5.0 and rl.acquired["order"] == 2
