"""An intent too old to place: the pure age rule, the limiter's deadline, stamping at submission, config."""

from __future__ import annotations

import asyncio
import math

import pytest

from execsvc.config import RateLimitConfig, config_from_dict
from execsvc.errors import ConfigError, RateLimitDeadlineError
from execsvc.events import OrderIntent
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.intake import keyed
from execsvc.refusals import age_refusal
from tests.unit.test_kite_ratelimit import JumpClock

SECOND = 1_000_000_000
NOW = 1_763_610_300 * SECOND  # 2025-11-20 09:15 IST


@pytest.mark.parametrize(
    ("ts_init", "max_age", "expected"),
    [
        (NOW, 30.0, None),
        (NOW - 30 * SECOND, 30.0, None),  # exactly the limit is still placed
        (NOW - 30 * SECOND - 1, 30.0, "stale"),
        (NOW - 3600 * SECOND, 30.0, "stale"),
        (NOW - 3600 * SECOND, None, None),  # null: any age
        (NOW + 5 * SECOND, 30.0, None),  # a producer's clock a little ahead
        (NOW * 1000, 30.0, "clock"),  # a unit error: picoseconds
        (NOW // 1000, 30.0, "stale"),  # microseconds: 1970
    ],
)
def test_age_refusal(ts_init, max_age, expected):
    refusal = age_refusal(ts_init, NOW, max_age)
    assert (refusal[0] if refusal else None) == expected
    if refusal is not None:
        assert f"ts_init={ts_init}" in refusal[1]
        assert "execution.max_intent_age_seconds=30" in refusal[1]


def test_a_stale_message_says_how_old():
    reason, message = age_refusal(NOW - 42_500_000_000, NOW, 30.0)  # type: ignore[misc]
    assert reason == "stale" and "42.500 s old" in message and "not placed" in message


def _limiter(clock: JumpClock, per_second: int = 2) -> RateLimiter:
    config = RateLimitConfig(orders_per_second=per_second, orders_per_minute=400, margin_seconds=0.0)
    return RateLimiter(config, clock=clock, sleep=clock.sleep)


async def test_the_limiter_refuses_a_slot_past_its_deadline_and_counts_nothing():
    clock = JumpClock(start=100.0)
    limiter = _limiter(clock)
    assert await limiter.acquire("order", placement=True, not_after=100.5) == 100.0
    assert await limiter.acquire("order", placement=True, not_after=100.5) == 100.0
    with pytest.raises(RateLimitDeadlineError, match=r"order rate-limit slot would come 0\.500 s past"):
        await limiter.acquire("order", placement=True, not_after=100.5)  # its slot: 101.0
    assert clock.sleeps == [], "it waited for a slot it could not use"
    assert limiter.acquired["order"] == 2 and limiter._placements == 2
    assert await limiter.acquire("order", placement=True, not_after=101.0) == 101.0  # just in time


async def test_a_penalty_that_comes_while_waiting_is_held_to_the_deadline():
    clock = JumpClock(start=0.0)
    limiter = _limiter(clock, per_second=1)
    await limiter.acquire("order")
    original_sleep = clock.sleep

    async def sleep_then_429(seconds: float) -> None:
        await original_sleep(seconds)
        limiter.penalize(5.0)  # a 429 on someone else's call while this one slept

    clock.sleep = sleep_then_429  # type: ignore[method-assign]
    limiter._sleep = sleep_then_429
    with pytest.raises(RateLimitDeadlineError):
        await limiter.acquire("order", not_after=3.0)


async def test_a_waiter_behind_the_queue_is_refused_at_its_turn():
    clock = JumpClock(start=0.0)
    limiter = _limiter(clock, per_second=1)
    outcomes = await asyncio.gather(
        *(limiter.acquire("order", not_after=1.5) for _ in range(4)), return_exceptions=True
    )
    assert outcomes[:2] == [0.0, 1.0]
    assert all(isinstance(o, RateLimitDeadlineError) for o in outcomes[2:])


def test_an_intent_with_an_id_but_no_ts_init_is_stamped_at_submission():
    ids = iter(range(10))
    make_id = lambda intent, ts: f"gen-{ts}-{next(ids)}"  # noqa: E731
    given = OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id="mine")
    stamped, key = keyed(given, now_ns=lambda: NOW, make_id=make_id)
    assert (stamped.ts_init, key) == (NOW, "mine")
    kept, _ = keyed(
        OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id="m2", ts_init=7),
        now_ns=lambda: NOW,
        make_id=make_id,
    )
    assert kept.ts_init == 7, "a producer's own ts_init is its signal time: kept"


@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan])
def test_a_bad_max_intent_age_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"execution\.max_intent_age_seconds="):
        config_from_dict({"execution": {"max_intent_age_seconds": value}})


def test_max_intent_age_defaults_to_30_seconds_and_null_turns_it_off():
    assert config_from_dict({}).execution.max_intent_age_seconds == 30.0
    assert (
        config_from_dict({"execution": {"max_intent_age_seconds": None}}).execution.max_intent_age_seconds
        is None
    )
