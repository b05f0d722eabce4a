"""Live trading across the IST date line: what a new day carries in from the last, against the simulator.

The broker squares MIS positions off and ends DAY orders at the close; an after-market order (AMO)
placed after the close goes out at the next open. A new day must match: no MIS position, no stale
DAY order, and every AMO still followed (its fill booked under its own intent and strategy).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.errors import ConfigError
from execsvc.executors.kite.mapping import tag_for
from execsvc.journal.inspect import verify_file
from tests.conftest import make_config
from tests.integration.test_live_kite import (
    Collector,
    _as_dict,
    intent,
    live_config,
    placements_per_tag,
    tick,
)

DAY = dt.date(2026, 11, 20)
NEXT_DAY = DAY + dt.timedelta(days=1)
INSTRUMENTS = Path(__file__).resolve().parents[2] / "data" / "sample" / "instruments.csv"
EVENING, NEXT_OPEN = ist_ns(DAY, 20, 0), ist_ns(NEXT_DAY, 9, 15)


def records(path: Path) -> list[dict]:
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


async def test_a_mis_position_left_open_overnight_does_not_halt_the_next_days_start(tmp_path, sim):
    """The broker squared it off and starts the day without it: carried in, it would be a phantom
    that reconciliation reports as a mismatch, halting the day before it began."""
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 10, 0)), access_token="t") as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent("mis1"))  # MARKET BUY 5 MIS: fills at the broker
        await seen.until("mis1", "FILLED")
    sim.reset()  # the next day at the broker: the MIS position was squared off, nothing carried
    async with ExecutionService(config, clock=ReplayClock(ist_ns(NEXT_DAY, 9, 10)), access_token="t") as svc:
        report, halted, positions = svc.reconciliation, svc.halted, svc.positions()
    assert report is not None and report.position_mismatches == []
    assert not halted
    assert [p for p in positions if p.net_qty] == []


async def test_an_amo_placed_in_the_evening_fills_at_the_next_open_across_a_running_rollover(tmp_path, sim):
    """Before: the date line forgot the AMO, and the broker's fill of it next morning was ignored."""
    clock = ReplayClock(EVENING)
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        seen = Collector(svc)
        placed = await svc.execute_intent(intent("amo1", variety="amo", product="CNC"))
        stale = await svc.execute_intent(intent("day1", order_type="LIMIT", price=1400.0, product="CNC"))
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick(1500.0))  # the date line: the new day's journal opens
        sim.push_tick(tick(1501.0))  # the broker's open: the AMO goes to the exchange and fills
        filled = await seen.until("amo1", "FILLED")
        positions = [(p.strategy_code, p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert placed.status == stale.status == "PLACED"
    assert filled.filled_qty == 5 and filled.order_id == placed.order_id
    assert positions == [("live1", "CNC", 5)]
    assert placements_per_tag(sim)[tag_for("amo1")] == 1
    old, new = records(tmp_path / "2026-11-20.jsonl"), records(tmp_path / "2026-11-21.jsonl")
    closed_old = [
        (r["intent_id"], r["status"]) for r in old if r["type"] == "result" and r["status"] != "PLACED"
    ]
    assert closed_old == [("day1", "CANCELLED")]  # the DAY order no update ended: expired in its day
    carried = next(r for r in new if r["type"] == "orders_carried")
    assert [c["order"]["intent_id"] for c in carried["orders"]] == ["amo1"]
    assert carried["from_day"] == "2026-11-20"
    verify_file(tmp_path / "2026-11-21.jsonl")


async def test_an_amo_placed_before_a_stop_is_followed_after_a_fresh_start_on_the_next_day(tmp_path, sim):
    """Before: reconciliation adopted it as a stranger (intent ``adopted-…``, strategy ``adopted``)."""
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(EVENING), access_token="t") as svc:
        placed = await svc.execute_intent(intent("amo2", variety="amo", product="CNC"))
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN), access_token="t") as svc:
        seen = Collector(svc)
        report = svc.reconciliation
        sim.push_tick(tick(1501.0))
        filled = await seen.until("amo2", "FILLED")
        positions = [(p.strategy_code, p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert report is not None and report.orders_adopted == [] and report.position_mismatches == []
    assert filled.order_id == placed.order_id and filled.filled_qty == 5
    assert positions == [("live1", "CNC", 5)]


async def test_a_carried_amo_the_broker_no_longer_has_is_closed_as_gone(tmp_path, sim):
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(EVENING), access_token="t") as svc:
        await svc.execute_intent(intent("amo3", variety="amo", product="CNC"))
    sim.reset()  # a new day at the broker without the order (it dropped it)
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN), access_token="t") as svc:
        report = svc.reconciliation
        latest = svc.engine.state.latest_results["amo3"]
        working = svc.engine.state.working_orders()
    assert report is not None and report.orders_gone == [tag_for("amo3")] and report.orders_not_placed == []
    assert latest.status == "CANCELLED" and "no longer in the broker's order book" in (latest.message or "")
    assert working == []


async def test_a_dry_run_amo_waits_for_the_next_open_and_sends_nothing(tmp_path, sim):
    config = live_config(tmp_path, sim)
    config = config_from_dict(
        {**_as_dict(config), "execution": {**_as_dict(config)["execution"], "dry_run": True}}
    )
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick(1500.0))
        placed = await svc.execute_intent(intent("dry1", variety="amo", product="CNC"))
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick(1520.0))  # the date line, then the open
        latest = svc.engine.state.latest_results["dry1"]
    assert placed.mode == "dry-run" and placed.status == "PLACED"
    assert latest.status == "FILLED" and latest.avg_price is not None and latest.avg_price > 1520.0
    assert sim.stats()["placements"] == 0


def paper_config(journal_dir: Path) -> Config:
    return make_config(journal_dir, market={"instruments_file": str(INSTRUMENTS)})


async def test_a_live_day_after_a_paper_day_in_the_same_directory_takes_nothing_from_it(
    tmp_path, sim, caplog
):
    """Rehearse on paper, go live the next morning with the same journal directory: the paper
    day's position and halt are not carried (a phantom would halt the live day at reconciliation),
    and its results answer no live intent (the paper fill is no answer to a live order)."""
    async with ExecutionService(paper_config(tmp_path), clock=ReplayClock(ist_ns(DAY, 10, 0))) as svc:
        await svc.on_tick(tick(1500.0))
        rehearsed = await svc.execute_intent(intent("s1-0001", product="NRML"))
        await svc.halt("end of rehearsal")
    clock = ReplayClock(ist_ns(NEXT_DAY, 9, 15))
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
        live = await svc.execute_intent(intent("s1-0001", product="NRML"))
    assert rehearsed.status == "FILLED" and rehearsed.mode == "paper"
    assert report is not None and report.position_mismatches == [] and not halted
    assert live.mode == "live" and live.status in ("PLACED", "FILLED")
    assert placements_per_tag(sim) == {tag_for("s1-0001"): 1}
    assert "a live day takes nothing from journaled days of another mode: passed over 2026-11-20 (paper)" in (
        caplog.text
    )
    assert "positions_carried" not in [r["type"] for r in records(tmp_path / "2026-11-21.jsonl")]


@pytest.mark.parametrize("first", ["paper", "live"])
async def test_a_days_journal_of_paper_refuses_a_live_start_and_the_reverse(tmp_path, sim, first):
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    paper = ExecutionService(paper_config(tmp_path), clock=clock)
    live = ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t")
    opened, then = (paper, live) if first == "paper" else (live, paper)
    async with opened:
        pass
    with pytest.raises(ConfigError) as refused:
        async with then:
            pass
    other = "live" if first == "paper" else "paper"
    assert f"today's journal (2026-11-20) is a {first} day's; a {other} service" in str(refused.value)
    assert repr(str(tmp_path)) in str(refused.value)
