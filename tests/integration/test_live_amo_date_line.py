"""Live after-market orders (AMO) across the date line: carried, followed, answered, never sent twice.

An AMO placed after the close waits at the broker for the next open. A new day carries it (with
its intent's answers) whether its placement was answered, is on its way or was lost; one that
already went to the exchange is a DAY order and ends with its day. Written by a review that found
each of these broken first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.reconcile import poll_orders
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag, tick

DAY = dt.date(2026, 11, 20)
NEXT_DAY = DAY + dt.timedelta(days=1)
EVENING, NEXT_OPEN = ist_ns(DAY, 20, 0), ist_ns(NEXT_DAY, 9, 15)


def records(path: Path) -> list[dict]:
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


def sim_status(sim, tag: str) -> str | None:
    return next((o["status"] for o in sim.orders() if o.get("tag") == tag), None)


async def test_an_amo_whose_placement_outcome_is_unknown_at_the_date_line_is_followed_into_the_new_day(
    tmp_path, sim
):
    """The broker took the AMO but its answer was lost: at midnight the lookups by tag have not
    found it yet. It goes out at the next open all the same; its fill must be booked under its
    intent (nothing the broker took may be lost)."""
    # lookups by tag only after 30 s: the date line comes first (deterministic)
    config = live_config(tmp_path, sim, unknown_check_delays=[30.0], unknown_give_up_seconds=60.0)
    clock = ReplayClock(EVENING)
    sim.set_faults(drop_after_accept={"count": 1})
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        seen = Collector(svc)
        first = await svc.execute_intent(intent("amo-u", variety="amo", product="CNC"))
        assert first.status == "UNKNOWN"
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick(1500.0))  # the date line
        sim.push_tick(tick(1501.0))  # the open: the broker sends the AMO and it fills
        await asyncio.wait_for(sim.wait_until(lambda: sim_status(sim, tag_for("amo-u")) == "COMPLETE"), 5)
        filled = await seen.until("amo-u", "FILLED")
        positions = [(p.strategy_code, p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.kill()  # do not wait 10 s for the lookup task
    old = records(tmp_path / "2026-11-20.jsonl")
    results_old = [(r["intent_id"], r["status"], r.get("message")) for r in old if r["type"] == "result"]
    assert placements_per_tag(sim)[tag_for("amo-u")] == 1
    # observed: [..., ('amo-u', 'CANCELLED', 'expired at the end of the trading day: no update ...')]
    assert [s for i, s, _ in results_old if i == "amo-u"] == ["UNKNOWN"], results_old
    assert filled.filled_qty == 5
    assert positions == [("live1", "CNC", 5)]


async def test_an_amo_of_unknown_outcome_at_a_stop_is_not_adopted_as_a_stranger_the_next_day(tmp_path, sim):
    """The same AMO across a stop: the next day's reconciliation should follow it under its intent,
    as it does for an acknowledged AMO (the change's own claim), not adopt it as ``adopted-…``."""
    config = live_config(tmp_path, sim, unknown_check_delays=[30.0], unknown_give_up_seconds=60.0)
    sim.set_faults(drop_after_accept={"count": 1})
    async with ExecutionService(config, clock=ReplayClock(EVENING), access_token="t") as svc:
        first = await svc.execute_intent(intent("amo-v", variety="amo", product="CNC"))
        assert first.status == "UNKNOWN"
        await svc.kill()
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN), access_token="t") as svc:
        report = svc.reconciliation
        strategies = {r.order.strategy_code for r in svc.engine.state.orders.values()}
    assert report is not None
    assert report.orders_adopted == [], report.orders_adopted
    assert strategies == {"live1"}


async def test_a_retry_of_an_amo_intent_after_two_date_lines_is_not_placed_a_second_time(tmp_path, sim):
    """An AMO placed on a Friday evening works until Monday's open: the service, running through
    the weekend, carries it Friday -> Saturday -> Sunday -> Monday. A retry of its intent on Monday
    (a strategy that restarted) must get its first result, not a second order at the broker."""
    assert DAY.weekday() == 4  # a Friday
    clock = ReplayClock(EVENING)
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        placed = await svc.execute_intent(intent("amo-w", variety="amo", product="CNC"))
        for days in (1, 2, 3):  # Saturday, Sunday, Monday: a tick after each date line
            clock.advance_to(ist_ns(DAY + dt.timedelta(days=days), 0, 0, 1))
            await svc.on_tick(tick(1500.0))
        working = [r.order.intent_id for r in svc.engine.state.working_orders()]
        again = await svc.execute_intent(intent("amo-w", variety="amo", product="CNC"))
    assert placed.status == "PLACED" and working == ["amo-w"]  # carried three times
    assert placements_per_tag(sim)[tag_for("amo-w")] == 1, "the retry placed a second AMO"
    assert again == placed


def snapshot(svc) -> dict:
    state = svc.engine.state
    return {
        "positions": sorted((k, p.net_qty, round(p.avg_price, 6)) for k, p in state.positions.items()),
        "working_qty": dict(state._working_qty),
        "symbol_net": dict(state._symbol_net),
        "broker_ids": dict(state.broker_ids),
        "orders": {
            t: (r.order.qty, r.order.price, r.order.variety, r.broker_order_id, r.filled_qty, r.working)
            for t, r in state.orders.items()
        },
        "breakers": state.breakers.summary(),
        "first_results": {k: v.status for k, v in state.first_results.items()},
    }


async def test_a_carried_amo_modified_and_cancelled_on_the_new_day_and_a_restart_changes_nothing(
    tmp_path, sim
):
    config = live_config(tmp_path, sim)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        await svc.execute_intent(
            intent("amo-m", qty=10, variety="amo", product="CNC", order_type="LIMIT", price=1490.0)
        )
        clock.advance_to(ist_ns(NEXT_DAY, 9, 0))
        await svc.on_tick(tick(1500.0))  # the date line
        modified = await svc.modify_order(tag_for("amo-m"), qty=6)
        running = snapshot(svc)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(NEXT_DAY, 9, 1)), access_token="t") as svc:
        restarted = snapshot(svc)
        cancelled = await svc.cancel_order(tag_for("amo-m"))
    assert modified.status == "PLACED" and "modified" in (modified.message or ""), modified
    assert running["orders"][tag_for("amo-m")][0] == 6
    assert running == restarted
    assert cancelled.status == "CANCELLED"
    assert next(o for o in sim.orders() if o.get("tag") == tag_for("amo-m"))["status"] == "CANCELLED"


@pytest.mark.parametrize("kept", [1, 2, 3])
async def test_a_crash_inside_a_live_opening_with_carried_orders(tmp_path, sim, kept):
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(EVENING), access_token="t") as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent("cnc1", product="CNC"))
        await seen.until("cnc1", "FILLED")
        await svc.execute_intent(
            intent("amo-c", qty=3, variety="amo", product="CNC", order_type="LIMIT", price=1490.0)
        )
        await svc.halt("risk desk")
    # the broker keeps the AMO; its CNC position is carried by the broker too
    next_day = ist_ns(NEXT_DAY, 9, 0)
    async with ExecutionService(config, clock=ReplayClock(next_day), access_token="t") as svc:
        whole = snapshot(svc)
    path = tmp_path / "2026-11-21.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    types = [json.loads(x)["ev"]["type"] for x in lines]
    assert types[:4] == ["journal_opened", "positions_carried", "orders_carried", "halted"], types
    path.write_bytes(b"".join(lines[:kept]))
    async with ExecutionService(config, clock=ReplayClock(next_day + 10**9), access_token="t") as svc:
        again = snapshot(svc)
    async with ExecutionService(config, clock=ReplayClock(next_day + 2 * 10**9), access_token="t") as svc:
        third = snapshot(svc)
    types = [json.loads(x)["ev"]["type"] for x in path.read_bytes().splitlines()]
    assert types[:4] == ["journal_opened", "positions_carried", "orders_carried", "halted"], types
    assert types.count("orders_carried") == 1
    for s in (whole, again, third):
        s.pop("first_results")
    assert again == whole == third


async def test_an_amo_that_went_out_at_its_own_days_open_is_not_carried_as_working(tmp_path, sim):
    """An AMO placed before the open (08:00) goes to the exchange at that day's open and is a DAY
    order from then on: the exchange ends it at the close. Still working at the date line (its last
    update missed, the case ``expire_all`` handles for regular orders), it must be closed in its own
    day like them, not carried into the next day, where the broker's book no longer has it and
    nothing ever ends it (a running service keeps its working quantity until a restart)."""
    clock = ReplayClock(ist_ns(DAY, 8, 0))
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        await svc.execute_intent(
            intent("amo-p", variety="amo", product="CNC", order_type="LIMIT", price=1400.0)
        )
        clock.advance_to(ist_ns(DAY, 9, 15))
        sim.push_tick(tick(1500.0))  # the open: the AMO goes to the exchange and rests
        await asyncio.wait_for(sim.wait_until(lambda: sim_status(sim, tag_for("amo-p")) == "OPEN"), 5)
        await poll_orders(svc.engine.executor)  # the service hears of it (here: one polling pass)
        clock.advance_to(ist_ns(NEXT_DAY, 9, 0))
        await svc.on_tick(tick(1500.0))  # the date line (the close's cancellation was missed)
        carried = [r.order.intent_id for r in svc.engine.state.working_orders()]
        working_qty = svc.engine.state.working_qty("live1", "NSE:INFY", "CNC", "BUY")
    new = records(tmp_path / "2026-11-21.jsonl")
    assert [r["type"] for r in new if r["type"] == "orders_carried"] == [], "a DAY order was carried"
    assert carried == [] and working_qty == 0


async def test_an_amo_whose_placement_is_in_flight_at_the_date_line_is_not_lost(tmp_path, sim):
    """No fault at all: the AMO's POST is on its way (slow answer, or queued by the rate limiter)
    as midnight passes. The broker takes it; the service must follow it into the new day."""
    clock = ReplayClock(ist_ns(DAY, 23, 59, 59))
    sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 300}])
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        seen = Collector(svc)
        answer = asyncio.ensure_future(svc.execute_intent(intent("amo-f", variety="amo", product="CNC")))

        async def accepted() -> None:  # its write-ahead record is folded: the POST is on its way
            while tag_for("amo-f") not in svc.engine.state.orders:
                await asyncio.sleep(0)

        await asyncio.wait_for(accepted(), 5)
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick(1500.0))  # the date line, with the POST on its way
        first = await asyncio.wait_for(answer, 5)
        await asyncio.wait_for(sim.wait_until(lambda: sim_status(sim, tag_for("amo-f")) is not None), 5)
        sim.push_tick(tick(1501.0))  # the open: the broker sends the AMO and it fills
        await asyncio.wait_for(sim.wait_until(lambda: sim_status(sim, tag_for("amo-f")) == "COMPLETE"), 5)
        filled = await seen.until("amo-f", "FILLED")
        positions = [(p.strategy_code, p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    new = records(tmp_path / "2026-11-21.jsonl")
    assert placements_per_tag(sim)[tag_for("amo-f")] == 1
    # observed: the caller hears CANCELLED ('expired ... no update from the broker ended it'); the new
    # day's journal then gets the acknowledgement and a PLACED result for an order it does not hold
    assert first.status == "PLACED", (first.status, first.message, [r["type"] for r in new])
    assert filled.filled_qty == 5 and positions == [("live1", "CNC", 5)]


async def test_an_intent_id_reused_on_the_next_day_does_not_overwrite_the_carried_order_it_names(
    tmp_path, sim
):
    """The engine treats an id that named a different order the day before as a new intent. Its
    tag is the carried AMO's tag: the new order replaces the carried one in the state (same key),
    and the broker gets a second order under the same tag."""
    clock = ReplayClock(EVENING)
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        await svc.execute_intent(intent("amo-r", variety="amo", product="CNC"))
        clock.advance_to(ist_ns(NEXT_DAY, 9, 0))
        await svc.on_tick(tick(1500.0))  # the date line: the AMO is carried
        other = await svc.execute_intent(intent("amo-r", qty=2, variety="amo", product="CNC"))
        working = [(r.order.intent_id, r.order.qty) for r in svc.engine.state.working_orders()]
        working_qty = svc.engine.state.working_qty("live1", "NSE:INFY", "CNC", "BUY")
    # observed: other.status == "PLACED", working == [("amo-r", 2)], working_qty == 7, 2 placements
    assert placements_per_tag(sim)[tag_for("amo-r")] == 1, (other.status, working, working_qty)
    assert ("amo-r", 5) in working


async def test_a_restart_after_a_carried_amo_filled_on_the_new_day_changes_nothing(tmp_path, sim):
    config = live_config(tmp_path, sim)
    clock = ReplayClock(EVENING)
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent("amo-x", qty=5, variety="amo", product="CNC"))
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(tick(1500.0))
        sim.push_tick(tick(1510.0))
        await seen.until("amo-x", "FILLED")
        sim.push_tick(tick(1490.0))
        await svc.execute_intent(intent("exit-x", side="SELL", qty=5, product="CNC"))
        await seen.until("exit-x", "FILLED")
        await svc.settle()
        running = snapshot(svc)
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + 10**9), access_token="t") as svc:
        restarted = snapshot(svc)
        report = svc.reconciliation
    assert running["breakers"]["loss_streak"] == 1  # the exit lost: it counts on the new day
    assert running == restarted
    assert report is not None and report.position_mismatches == []
