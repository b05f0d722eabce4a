"""Live after-market orders and days of different modes: what a day takes from another.

A modification in flight at the date line answers with the new day's record; a carried order keeps
its unknown outcome; a live day takes nothing from a dry-run or paper day (of any journal format)
and a paper day in between does not cut a live day off from the last live one; a dry-run restart on
a live day leaves the broker's orders alone. Written by a review that found each of these broken.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.errors import ConfigError
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.integration.test_kite_sim import NO_LIMITS
from tests.integration.test_live_kite import Collector, intent, live_config, tick

DAY = dt.date(2026, 11, 20)
NEXT_DAY = DAY + dt.timedelta(days=1)
EVENING, NEXT_OPEN = ist_ns(DAY, 20, 0), ist_ns(NEXT_DAY, 9, 15)


def records(path: Path) -> list[dict]:
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


async def test_a_modification_of_a_waiting_amo_in_flight_at_the_date_line_answers_its_new_terms(
    tmp_path, sim
):
    """The PUT is on its way as midnight passes. The placement re-finds the carried record by tag
    after its wait; the modification does not: it answers (and journals) from the old day's record."""
    clock = ReplayClock(ist_ns(DAY, 23, 59, 59))
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        await svc.execute_intent(
            intent("amo-mod", qty=10, variety="amo", product="CNC", order_type="LIMIT", price=1490.0)
        )
        sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "PUT", "ms": 300}])
        answer = asyncio.ensure_future(svc.modify_order(tag_for("amo-mod"), qty=6, price=1480.0))

        async def sent() -> None:  # the modify request is journaled: its PUT follows once durable
            while not svc.engine.state.change_keys:
                await asyncio.sleep(0)

        await asyncio.wait_for(sent(), 5)
        clock.advance_to(ist_ns(NEXT_DAY, 9, 0))
        await svc.on_tick(tick(1500.0))  # the date line, with the PUT on its way
        modified = await asyncio.wait_for(answer, 5)
        record = svc.engine.state.orders[tag_for("amo-mod")]
        state_terms = (record.order.qty, record.order.price)
    assert state_terms == (6, 1480.0)
    assert modified.message == "modified"
    assert modified.qty == 6, f"answer says qty={modified.qty} while the state says {state_terms}"


def dry_run_config(tmp_path: Path, sim):
    from execsvc.config import config_from_dict
    from tests.integration.test_live_kite import _as_dict

    config = live_config(tmp_path, sim)
    return config_from_dict(
        {**_as_dict(config), "execution": {**_as_dict(config)["execution"], "dry_run": True}}
    )


async def test_a_live_start_on_a_dry_run_days_journal_is_refused(tmp_path, sim):
    """Rehearse in dry-run in the morning, go live the same day in the same directory: the mode
    guard lets a live service fold a dry-run day (both are "not paper"), so the simulated position
    is a phantom (reconciliation halts) and a live intent reusing a dry-run id gets the dry-run
    fill back instead of an order -- the very bug be44742 fixed for paper days."""
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(dry_run_config(tmp_path, sim), clock=clock) as svc:
        await svc.on_tick(tick(1500.0))
        rehearsed = await svc.execute_intent(intent("s1-0001", product="CNC"))
    clock = ReplayClock(ist_ns(DAY, 11, 0))
    with pytest.raises(ConfigError) as refused:
        async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t"):
            pass
    assert rehearsed.mode == "dry-run" and rehearsed.status == "FILLED"
    assert "is a dry-run day's; a live service needs a journal directory of its own" in str(refused.value)
    assert sim.stats()["placements"] == 0


async def test_a_dry_run_day_journaled_before_the_dry_run_field_is_not_carried_into_a_live_day(
    tmp_path, sim, monkeypatch
):
    """Journals written before be44742 have no ``dry_run`` in ``journal_opened``: a dry-run day reads
    as a live one (the default False), so the next live day carries its simulated positions in
    (a phantom: reconciliation halts) although every result of that day says mode "dry-run"."""
    import execsvc.day_rollover as day_rollover
    from execsvc.events import JournalOpened

    def old_format(**kw):  # what the code before be44742 wrote: no dry_run field
        kw.pop("dry_run", None)
        return JournalOpened(**kw)

    with monkeypatch.context() as m:
        m.setattr(day_rollover, "JournalOpened", old_format)
        dry_run = dry_run_config(tmp_path, sim)
        async with ExecutionService(dry_run, clock=ReplayClock(ist_ns(DAY, 10, 0))) as svc:
            await svc.on_tick(tick(1500.0))
            rehearsed = await svc.execute_intent(intent("s1-0001", product="CNC"))
    opened = json.loads((tmp_path / "2026-11-20.jsonl").read_text().splitlines()[0])["ev"]
    assert opened["type"] == "journal_opened" and "dry_run" not in opened  # the old format
    clock = ReplayClock(ist_ns(NEXT_DAY, 9, 15))
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
    assert rehearsed.mode == "dry-run" and rehearsed.status == "FILLED"
    assert report is not None and report.position_mismatches == [], report.position_mismatches
    assert not halted


async def test_a_paper_day_between_two_live_days_does_not_cut_the_live_days_carry(tmp_path):
    """Live on day 1 (a CNC position), a paper rehearsal in the same directory on day 2 (allowed: it
    takes nothing from the live day), live again on day 3: ``_previous_day`` looks at the last
    journaled day only, finds paper, and carries nothing from day 1 -- the CNC stock the broker
    still holds is a mismatch and reconciliation halts the day (a waiting AMO would be lost too)."""
    from tests.integration.test_live_date_line import paper_config

    broker_clock = ReplayClock(ist_ns(DAY, 10, 0))  # the broker's day boundary moves the stock to holdings
    async with KiteSimulator(heartbeat_seconds=0.05, clock=broker_clock, rate_limits=NO_LIMITS) as sim:
        sim.push_tick(tick(1500.0))
        config = live_config(tmp_path, sim)
        async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 10, 0)), access_token="t") as svc:
            seen = Collector(svc)
            await svc.execute_intent(intent("cnc1", product="CNC"))
            await seen.until("cnc1", "FILLED")
        paper_day = ist_ns(NEXT_DAY, 10, 0)
        async with ExecutionService(paper_config(tmp_path), clock=ReplayClock(paper_day)) as svc:
            await svc.on_tick(tick(1500.0))
            await svc.execute_intent(intent("p1", product="CNC"))
        third = ist_ns(NEXT_DAY + dt.timedelta(days=1), 9, 15)
        broker_clock.advance_to(third)
        async with ExecutionService(config, clock=ReplayClock(third), access_token="t") as svc:
            report, halted = svc.reconciliation, svc.halted
            positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert report is not None and report.position_mismatches == [], report.position_mismatches
    assert not halted
    assert positions == [("CNC", 5)]


async def test_a_carried_amo_of_unknown_outcome_is_still_unknown_on_the_new_day(tmp_path, sim):
    """``CarriedOrder`` does not carry ``OrderRecord.unknown``: on the new day the AMO whose
    placement answer was lost reads as acknowledged-and-PLACED (``record_status``), so a cancel
    asked meanwhile is answered PLACED although nobody knows whether the broker has it."""
    config = live_config(tmp_path, sim, unknown_check_delays=[30.0], unknown_give_up_seconds=60.0)
    clock = ReplayClock(EVENING)
    sim.set_faults(drop_after_accept={"count": 1})
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        first = await svc.execute_intent(intent("amo-u2", variety="amo", product="CNC"))
        before = svc.engine.state.orders[tag_for("amo-u2")].unknown
        clock.advance_to(ist_ns(NEXT_DAY, 9, 0))
        await svc.on_tick(tick(1500.0))  # the date line: carried
        after = svc.engine.state.orders[tag_for("amo-u2")].unknown
        answer = await svc.cancel_order(tag_for("amo-u2"))
        await svc.kill()  # do not wait 30 s for the lookup task
    assert first.status == "UNKNOWN" and before
    assert answer.status == "UNKNOWN", (answer.status, answer.message, after)


async def test_a_dry_run_restart_on_a_live_day_is_refused_and_fills_none_of_the_brokers_orders(tmp_path, sim):
    """A day's journal is one mode's: dry-run on a live day would rest the broker's waiting AMO in
    its simulator and journal a paper fill of a real broker order."""
    clock = ReplayClock(EVENING)
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        placed = await svc.execute_intent(intent("amo-live", variety="amo", product="CNC"))
    size = (tmp_path / "2026-11-20.jsonl").stat().st_size
    with pytest.raises(ConfigError) as refused:
        async with ExecutionService(dry_run_config(tmp_path, sim), clock=ReplayClock(EVENING + 10**9)):
            pass
    assert placed.status == "PLACED" and placed.mode == "live"
    assert "is a live day's; a dry-run service needs a journal directory of its own" in str(refused.value)
    assert (tmp_path / "2026-11-20.jsonl").stat().st_size == size


@pytest.mark.parametrize("dry_run", [False, True])
async def test_the_days_placement_cap_starts_again_at_the_date_line(tmp_path, sim, dry_run):
    """Kite counts placements per day: a service running across midnight had its limiter count every
    placement since start-up, so after ``orders_per_day`` of them in all it refused every order of
    every later day ('Kite allows N order placements a day')."""
    monday, tuesday = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
    config = _with_cap(dry_run_config(tmp_path, sim) if dry_run else live_config(tmp_path, sim), 1)
    clock = ReplayClock(ist_ns(monday, 10, 0))
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        await svc.on_tick(tick(1500.0))
        first = await asyncio.wait_for(svc.execute_intent(intent("cap-mon", qty=1)), 5)
        clock.advance_to(ist_ns(tuesday, 10, 0))
        await svc.on_tick(tick(1500.0))  # the date line
        second = await asyncio.wait_for(svc.execute_intent(intent("cap-tue", qty=1)), 5)
    assert first.status != "REJECTED", first
    assert second.status != "REJECTED", second.message


def _with_cap(config: Config, cap: int) -> Config:
    import msgspec

    kite = config.kite
    limits = msgspec.structs.replace(kite.rate_limits, orders_per_day=cap)
    return msgspec.structs.replace(config, kite=msgspec.structs.replace(kite, rate_limits=limits))


@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_restart_mid_day_still_counts_the_days_placements(tmp_path, sim, dry_run):
    """The limiter's count of the day's placements started at 0 with every start: a service
    restarted mid-day could place ``orders_per_day`` more, past Kite's cap (Kite refuses them, or
    with RMS limits set lower, the account's)."""
    monday = dt.date(2026, 11, 23)
    config = _with_cap(dry_run_config(tmp_path, sim) if dry_run else live_config(tmp_path, sim), 2)
    clock = ReplayClock(ist_ns(monday, 10, 0))
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        await svc.on_tick(tick(1500.0))
        first = await asyncio.wait_for(svc.execute_intent(intent("day-1", qty=1)), 5)
    clock.advance(60)
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        await svc.on_tick(tick(1500.0))
        second = await asyncio.wait_for(svc.execute_intent(intent("day-2", qty=1)), 5)
        third = await asyncio.wait_for(svc.execute_intent(intent("day-3", qty=1)), 5)
    assert first.status != "REJECTED" and second.status != "REJECTED", (first, second)
    assert third.status == "REJECTED" and "2 order placements a day" in (third.message or ""), third
