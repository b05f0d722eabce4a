"""After-market orders (AMO) on paper: queued until the open, across the date line and restarts.

The broker keeps an AMO placed after the close and sends it to the exchange at the next open; paper
(and dry-run) send it with its instrument's first tick after it was placed. Before, paper filled a
MARKET AMO at once at the stale closing price, and the date line cancelled a LIMIT one.
"""

from __future__ import annotations

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import journal_days, journal_path
from execsvc.market.replay import ReplayStats
from execsvc.report import build_report
from tests.conftest import DAY, SECOND, amo, journal_records, make_config, tick

EVENING = ist_ns(DAY, 20, 0)
NEXT_OPEN = ist_ns(DAY.replace(day=21), 9, 15)
NEXT_FILE = "2026-11-21.jsonl"
THIRD_DAY = ist_ns(DAY.replace(day=22), 9, 15)


@pytest.mark.parametrize("second_day_start", ["rolled while running", "fresh start"])
async def test_a_market_amo_placed_after_the_close_fills_at_the_next_open_not_at_the_close(
    journal_dir, second_day_start
):
    config = make_config(journal_dir)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))  # the last price of the day
        placed = await svc.execute_intent(amo("a1"))
        if second_day_start == "rolled while running":
            await svc.on_tick(tick("NSE:INFY", 1520.0, NEXT_OPEN))
            latest = svc.engine.state.latest_results["a1"]
            positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    if second_day_start == "fresh start":
        async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN - SECOND)) as svc:
            await svc.on_tick(tick("NSE:INFY", 1520.0, NEXT_OPEN))
            latest = svc.engine.state.latest_results["a1"]
            positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
        restarted = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert placed.status == "PLACED" and placed.filled_qty == 0
    assert latest.status == "FILLED" and latest.avg_price == pytest.approx(1520.80)  # 1520 + 5 bps, up
    assert positions == restarted == [("CNC", 5)]
    new_day = journal_records(journal_dir / NEXT_FILE)
    assert [e["type"] for e in new_day[:2]] == ["journal_opened", "orders_carried"]
    assert [c["order"]["intent_id"] for c in new_day[1]["orders"]] == ["a1"]
    assert [e["intent_id"] for e in new_day if e["type"] == "fill"] == ["a1"]
    verify_file(journal_dir / NEXT_FILE)


async def test_a_limit_amo_rests_from_the_open_and_a_released_one_expires_with_its_day(journal_dir):
    config = make_config(journal_dir)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        await svc.execute_intent(amo("low", order_type="LIMIT", price=1490.0))
        await svc.on_tick(tick("NSE:INFY", 1495.0, NEXT_OPEN))  # the open: sent, not marketable: rests
        resting = svc.engine.state.latest_results["low"]
        await svc.on_tick(tick("NSE:INFY", 1489.0, NEXT_OPEN + SECOND))
        filled = svc.engine.state.latest_results["low"]
        await svc.execute_intent(amo("day2", order_type="LIMIT", price=1400.0))
        await svc.on_tick(tick("NSE:INFY", 1490.0, NEXT_OPEN + 2 * SECOND))  # sent: now a DAY order
        third_day = ist_ns(DAY.replace(day=22), 9, 15)
        await svc.on_tick(tick("NSE:INFY", 1490.0, third_day))
        expired = svc.engine.state.latest_results.get("day2")
    assert resting.status == "PLACED" and resting.filled_qty == 0
    assert filled.status == "FILLED" and filled.avg_price == 1490.0  # a resting limit fills at its price
    assert "orders_carried" not in [e["type"] for e in journal_records(journal_dir / "2026-11-22.jsonl")]
    assert expired is None  # a new day's state; in its own day's file it expired:
    day2 = [e for e in journal_records(journal_dir / NEXT_FILE) if e.get("intent_id") == "day2"]
    assert day2[-1]["type"] == "result" and day2[-1]["status"] == "CANCELLED"


async def test_a_waiting_amo_modified_or_cancelled_does_not_fill_before_the_open(journal_dir):
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        kept = await svc.execute_intent(amo("kept", order_type="LIMIT", price=1490.0))
        dropped = await svc.execute_intent(amo("dropped"))
        modified = await svc.modify_order(kept.order_id or "", price=1510.0)  # marketable at 1500
        cancelled = await svc.cancel_order(dropped.order_id or "")
        still = svc.engine.state.orders[kept.order_id or ""].filled_qty
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN - SECOND)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1505.0, NEXT_OPEN))
        at_open = svc.engine.state.latest_results["kept"]
        positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert modified is not None and modified.status == "PLACED" and still == 0
    assert cancelled is not None and cancelled.status == "CANCELLED"
    assert at_open.status == "FILLED" and at_open.avg_price is not None and at_open.avg_price <= 1510.0
    assert positions == [("CNC", 5)]  # the cancelled one never went out


async def test_a_stop_amo_that_went_out_at_the_open_expires_with_that_day_not_carried_for_ever(journal_dir):
    """An SL AMO goes to the exchange at the open and from there is a DAY order (its trigger may
    never be hit). Paper keeps it `waits_for_open` until its trigger, so it is carried day after day."""
    config = make_config(journal_dir)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        placed = await svc.execute_intent(amo("stop1", order_type="SL", price=1610.0, trigger_price=1600.0))
        await svc.on_tick(tick("NSE:INFY", 1510.0, NEXT_OPEN))  # the open: at the exchange now
        await svc.on_tick(tick("NSE:INFY", 1512.0, NEXT_OPEN + SECOND))
        await svc.on_tick(tick("NSE:INFY", 1511.0, THIRD_DAY))  # next date line
        working = [r.order.intent_id for r in svc.engine.state.working_orders()]
    assert placed.status == "PLACED"
    third = journal_records(journal_dir / "2026-11-22.jsonl")
    assert "orders_carried" not in [e["type"] for e in third], "SL AMO carried a second night"
    assert working == []


async def test_an_amo_placed_after_an_evening_start_waits_for_the_open_instead_of_being_refused(journal_dir):
    """The service (re)started after the close: no tick comes until the next open, which is what an
    AMO waits for. Paper refuses it for want of a tick it does not need."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        placed = await svc.execute_intent(amo("eve1", order_type="LIMIT", price=1490.0))
        assert placed.status == "PLACED", (placed.status, placed.reject_reason, placed.message)
        await svc.on_tick(tick("NSE:INFY", 1480.0, NEXT_OPEN))
        latest = svc.engine.state.latest_results["eve1"]
    assert latest.status == "FILLED"


async def test_the_replay_report_counts_a_carried_amo_once(journal_dir):
    """``build_report`` counts each intent's first result per day file: a carried AMO's first result
    on the new day (FILLED) is counted again, so "results" totals more than the intents."""
    config = make_config(journal_dir)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        await svc.execute_intent(amo("a1"))
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick("NSE:INFY", 1520.0, NEXT_OPEN))
    files = [journal_path(journal_dir, d) for d in journal_days(journal_dir)]
    report = build_report(ReplayStats(), files, inputs={}, capital=500_000.0)
    assert report["intents"] == 1 and report["orders"] == 1 and report["fills"] == 1
    assert sum(report["results"].values()) == 1, report["results"]
