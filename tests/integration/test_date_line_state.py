"""What the date line keeps: repeats of changes to a carried order, the day's capital, an
intent's own answer after a cancel that named it, and a crash-cut AMO whatever day the restart.
Written by a review that found each of these broken first.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.engine import INTENTS_TOPIC, Submission
from execsvc.events import ModifyIntent
from tests.conftest import DAY, SECOND, amo, journal_records, make_config, tick

EVENING = ist_ns(DAY, 20, 0)
LATE = ist_ns(DAY, 23, 59, 50)
MIDNIGHT = ist_ns(DAY.replace(day=21), 0, 0)
NEXT_OPEN = ist_ns(DAY.replace(day=21), 9, 15)


async def _change(svc: ExecutionService, change: ModifyIntent, key: str):
    waiter = svc.engine.wait_for(key)
    await svc.bus.publish(INTENTS_TOPIC, Submission(change, key))
    return await waiter


async def test_a_redelivered_modification_of_a_carried_amo_after_midnight_is_not_done_again(journal_dir):
    """A modify's key is handled once (NATS redelivers one whose ack was lost): done again it undoes
    the changes made since. The date line forgets every key although a carried AMO is the same order."""
    config = make_config(journal_dir)
    clock = ReplayClock(LATE)
    async with ExecutionService(config, clock=clock) as svc:
        placed = await svc.execute_intent(amo("a1", order_type="LIMIT", price=1490.0, qty=10))
        oid = placed.order_id or ""
        cut = ModifyIntent(order_id=oid, qty=5, ts_init=LATE)
        await _change(svc, cut, "k-cut")
        await _change(svc, ModifyIntent(order_id=oid, qty=8, ts_init=LATE), "k-raise")
        same_day = await _change(svc, cut, "k-cut")  # a redelivery before midnight: answered only
        assert "a repeat of change" in (same_day.message or "")
        await svc.on_tick(tick("NSE:SBIN", 800.0, MIDNIGHT + SECOND))  # the date line; INFY untouched
        carried = svc.engine.state.orders[oid]
        assert carried.working and carried.order.qty == 8
        again = await _change(svc, cut, "k-cut")  # the same message redelivered after midnight
        qty_after = svc.engine.state.orders[oid].order.qty
    assert qty_after == 8, (qty_after, again.message)


async def test_a_capital_reloaded_yesterday_is_what_a_restart_after_the_date_line_measures_against(
    journal_dir,
):
    """The day's journal opens with the capital in force (``journal_opened.capital``) and the running
    service keeps measuring drawdown against it; a restart on that day folds the file with the
    config's capital instead, so the breakers' figures (and a drawdown latch) change with a restart."""
    limits = {"capital_rupees": 500_000.0, "max_daily_drawdown_pct": 0.02}
    config = make_config(journal_dir, execution={"circuit_breakers": limits})
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.reload_limits(
            msgspec.structs.replace(config.execution.circuit_breakers, capital_rupees=200_000.0),
            reason="capital cut",
        )
        await svc.on_tick(tick("NSE:INFY", 1500.0, NEXT_OPEN))  # the date line
        running = svc.breaker_status()
    opened = journal_records(journal_dir / "2026-11-21.jsonl")[0]
    assert opened["type"] == "journal_opened" and opened["capital"] == 200_000.0
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
        restarted = svc.breaker_status()
    assert restarted == running  # observed: equity and peak_equity 500,000 after the restart, 200,000 before


async def test_a_cancel_by_intent_id_after_midnight_does_not_change_the_answer_to_that_intent(journal_dir):
    """Yesterday's order is not today's: a cancel naming its intent is refused as an unknown order.
    That refusal is journaled as a result *of the intent*, so a repeat of the intent (a retry the
    date line must answer from yesterday's first result) gets "unknown order" back instead."""
    config = make_config(journal_dir)
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, ist_ns(DAY, 10, 0)))
        intent = OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, product="CNC",
                             intent_id="c1")  # fmt: skip
        first = await svc.execute_intent(intent)
        await svc.on_tick(tick("NSE:INFY", 1500.0, NEXT_OPEN))  # the date line
        refused = await svc.cancel_order(intent_id="c1")
        repeat = await svc.execute_intent(intent)
    assert first.status == "FILLED"
    assert refused.status == "REJECTED" and refused.reject_reason == "unknown_order"
    # observed: REJECTED unknown_order, the cancel's refusal
    assert (repeat.status, repeat.order_id) == ("FILLED", first.order_id), repeat


def cut_after_last(path: Path, marker: bytes) -> None:
    """Keep the journal up to (and with) the last line holding ``marker``: a kill -9 right there."""
    lines = path.read_bytes().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if marker in line)
    path.write_bytes(b"".join(lines[: last + 1]))


@pytest.mark.parametrize("restart", ["same evening", "next morning"])
async def test_an_amo_cut_before_its_first_result_is_settled_alike_whatever_day_the_restart_comes(
    journal_dir, restart
):
    """kill -9 between the AMO's ``order_accepted`` and its PLACED result. A restart the same evening
    settles it (never acknowledged: it does not trade on) and answers its intent at once. A restart
    the next morning folds the cut day as it is: the AMO is carried with no answer, a repeat of its
    intent waits for the instrument's first tick (here: for ever), and the order then trades."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        await svc.execute_intent(amo("cut1"))
    cut_after_last(journal_dir / "2026-11-20.jsonl", b'"type":"order_accepted"')
    at = EVENING + 60 * SECOND if restart == "same evening" else NEXT_OPEN - 15 * 60 * SECOND
    async with ExecutionService(config, clock=ReplayClock(at)) as svc:
        waiter = svc.engine.wait_for("cut1")  # execute_intent(amo("cut1")), without blocking
        await svc.bus.publish(INTENTS_TOPIC, Submission(amo("cut1"), "cut1"))
        await svc.settle()  # the repeat handled (the bus drained) ...
        await svc.settle()  # ... and its answer durable and released
        answered = waiter.done()
        working = [r.order.intent_id for r in svc.engine.state.working_orders()]
    # observed (next morning): not answered, and ['cut1'] working (it fills at the first tick)
    assert (answered, working) == (True, [])
