"""The library API given values the journal cannot hold: refused by name, and the next start reads the day.

A Python caller can pass what no JSON body can carry: a string with a lone surrogate (UTF-8 has no
encoding for it), or a number, None or a list where an operator's reason belongs. Journaled as
given, the first failed its record's encoding (the intent went unanswered, "not handled") and the
second wrote a record the journal's typed decoder refuses, so the next start failed for the day.
"""

from __future__ import annotations

from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.errors import ValidationError
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def intent(**kw: Any) -> OrderIntent:
    fields: dict[str, Any] = dict(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10)
    return OrderIntent(**{**fields, **kw})


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = _nested(5000)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "spike \ud800"),
        ("symbol", "NSE:\ud800"),
        ("strategy_code", "\udcff"),
        ("tag", "\ud800"),
        ("intent_id", "\ud800"),
        # nested past repr: the error meant to name it raised RecursionError ("not handled")
        ("symbol", DEEP),
        ("reason", DEEP),
    ],
    ids=["reason", "symbol", "strategy_code", "tag", "intent_id", "deep symbol", "deep reason"],
)
async def test_an_intent_with_a_value_the_journal_cannot_hold_is_rejected_by_name(journal_dir, field, value):
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        answer = await svc.execute_intent(intent(**{"intent_id": "bad1", field: value}))
        after = await svc.execute_intent(intent(intent_id="good1"))
    assert (answer.status, answer.reject_reason) == ("REJECTED", "validation")
    shown = "<list nested too deeply to show>" if value is DEEP else repr(value)
    assert f"{field}={shown}" in (answer.message or "")
    assert after.status == "FILLED"
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 2 * SECOND)) as again:
        assert again.engine.state.latest_results["good1"].status == "FILLED"


ACTIONS = {
    "halt reason int": (lambda svc: svc.halt(5), "halt: reason=5"),
    "halt reason None": (lambda svc: svc.halt(None), "halt: reason=None"),
    "halt by int": (lambda svc: svc.halt("x", by=7), "halt: by=7"),
    "halt surrogate": (lambda svc: svc.halt("\ud800"), "halt: reason='\\ud800'"),
    "resume list": (lambda svc: svc.resume(["a"]), "resume: reason=['a']"),
    "reset float": (lambda svc: svc.reset_breakers(1.5), "reset_breakers: reason=1.5"),
    "square-off strategy int": (lambda svc: svc.square_off(5, reason="x"), "square_off: strategy=5"),
    "square-off reason int": (lambda svc: svc.square_off(None, reason=5), "square_off: reason=5"),
}


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_an_operator_action_with_a_reason_the_journal_cannot_hold_is_refused(journal_dir, action):
    call, message = ACTIONS[action]
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        with pytest.raises(ValidationError) as refused:
            await call(svc)
        assert not svc.halted
    assert message in str(refused.value)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + SECOND)) as again:
        assert not again.halted


@pytest.mark.parametrize("ts_event", [float(OPEN_NS + SECOND), "09:15", None])
async def test_a_tick_whose_time_is_not_an_int_is_refused_on_a_replay_clock(journal_dir, ts_event):
    """A float ``ts_event`` (``time.time() * 1e9``) became the replay clock's time and so every
    record's: the next intent was 'not handled', and the next start refused the day's journal
    (``ts_init``: expected int, got float). A str or None raised TypeError."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        with pytest.raises(ValidationError, match=r"^tick ts_event=.*: must be an int of nanoseconds"):
            await svc.on_tick(tick("NSE:INFY", 1500.0, ts_event))  # type: ignore[arg-type]
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        answer = await svc.execute_intent(intent(intent_id="after1"))
    assert answer.status == "FILLED" and type(answer.ts_event) is int
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 2 * SECOND)) as again:
        assert again.engine.state.latest_results["after1"].status == "FILLED"


def test_a_replay_clock_refuses_a_start_that_is_not_an_int() -> None:
    with pytest.raises(ValidationError, match=r"start_ns=1\.795.*: must be an int of nanoseconds"):
        ReplayClock(float(OPEN_NS))
