"""Strategy intent ids: the same in a replay, new after a restart (the counter starts again)."""

from __future__ import annotations

from execsvc.strategies.base import StrategyContext
from execsvc.validation import _ID_RE


def context(now: int, code: str = "MAX") -> StrategyContext:
    return StrategyContext(code, lambda *_: None, lambda: now)


def test_a_replay_gives_the_same_ids() -> None:
    first, second = context(1_795_146_300_000_000_000), context(1_795_146_300_000_000_000)
    assert [first.next_intent_id() for _ in range(3)] == [second.next_intent_id() for _ in range(3)]


def test_a_restarted_process_does_not_repeat_an_earlier_id() -> None:
    before = context(1_795_146_300_000_000_000)
    earlier = {before.next_intent_id() for _ in range(3)}
    after_restart = context(1_795_232_700_000_000_000)  # the counter starts again at 1, the clock moved on
    assert not earlier & {after_restart.next_intent_id() for _ in range(3)}


def test_ids_are_valid_even_for_the_longest_strategy_code() -> None:
    ctx = context(1_795_146_300_000_000_000, code="S" * 64)
    ident = ctx.next_intent_id()
    assert _ID_RE.fullmatch(ident), ident


def test_long_codes_that_share_their_start_still_give_different_ids() -> None:
    now = 1_795_146_300_000_000_000
    v1, v2 = (
        context(now, "momentum_breakout_nifty_weekly_v1"),
        context(now, "momentum_breakout_nifty_weekly_v2"),
    )
    one, two = v1.next_intent_id(), v2.next_intent_id()
    assert one != two and _ID_RE.fullmatch(one) and _ID_RE.fullmatch(two)
