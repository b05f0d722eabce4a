"""Futures in the F&O pre-open (09:00-09:15 IST), with the session calendar.

Since 8 Dec 2025 NSE runs a call auction for futures before the F&O open (FACTS.md section 6:
futures only, LIMIT and MARKET orders, no SL and no IOC). The calendar let futures through it
(``session.fo_futures_pre_open``), but the engine never told it the instrument type, so a future
placed then was refused like any order out of the session. Now it is taken; paper and dry-run run
no auction, so it waits and meets the market at the open, as an after-market order does; a
restart in between changes nothing, and one never matched by the date line ends with its day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.instruments import Instrument, Instruments
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, make_config
from tests.integration.test_live_kite import Collector, live_config, placements_per_tag
from tests.integration.test_matching_out_of_session import CALENDAR, FRI, FUT, MARKER, journaled, started
from tests.integration.test_matching_out_of_session import tick as tick_at

OPTION = "NFO:NIFTY26DEC26000CE"
SAT = dt.date(2026, 11, 21)


def order(intent_id: str, order_type: str = "MARKET", *, symbol: str = FUT, **terms: Any) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=1, product="NRML", order_type=order_type,
        intent_id=intent_id, **terms,
    )  # fmt: skip


def fills(journal_dir: Path, day: dt.date) -> list[tuple[str, float, int]]:
    records = journal_records(journal_dir / f"{day.isoformat()}.jsonl")
    return [(e["intent_id"], e["price"], e["ts_event"]) for e in records if e["type"] == "fill"]


async def test_a_future_placed_in_the_pre_open_is_taken_and_fills_at_the_open(journal_dir: Path) -> None:
    svc = await started(journal_dir, ist_ns(FRI, 9, 0))
    try:
        await svc.on_tick(tick_at(FUT, 26_000.0, ist_ns(FRI, 9, 1)))
        placed = await svc.execute_intent(order("pre"))
        await svc.on_tick(tick_at(FUT, 26_005.0, ist_ns(FRI, 9, 10)))  # still the auction: no match
        held_in_the_pre_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick_at(FUT, 26_010.0, ist_ns(FRI, 9, 15)))
        held_at_the_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    finally:
        await svc.stop()

    assert (placed.status, placed.filled_qty) == ("PLACED", 0), placed.message
    assert "pre-open" in (placed.message or "")
    assert held_in_the_pre_open == []
    assert held_at_the_open == [(FUT, 1)]
    assert fills(journal_dir, FRI) == [("pre", 26_010.0, ist_ns(FRI, 9, 15))]


async def test_a_future_placed_in_the_pre_open_before_its_first_tick_waits_as_an_amo_does(
    journal_dir: Path,
) -> None:
    # the date line clears the day's ticks, and a replay (or a feed started at 09:00) may bring no
    # pre-open tick: the auction's order waits for the open whatever the last price, so it needs
    # none, as an AMO needs none (Kite and the simulator take it)
    svc = await started(journal_dir, ist_ns(FRI, 9, 0))
    try:
        placed = await svc.execute_intent(order("pre", "LIMIT", price=26_020.0))
        await svc.on_tick(tick_at(FUT, 26_010.0, ist_ns(FRI, 9, 15)))
        held_at_the_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    finally:
        await svc.stop()

    assert (placed.status, placed.reject_reason) == ("PLACED", None), placed.message
    assert held_at_the_open == [(FUT, 1)]
    assert [(i, t) for i, _, t in fills(journal_dir, FRI)] == [("pre", ist_ns(FRI, 9, 15))]


@pytest.mark.parametrize(
    ("intent", "named"),
    [
        (order("option", symbol=OPTION), "futures only"),
        (order("stop", "SL", price=26_100.0, trigger_price=26_090.0), "order_type='SL'"),
        (order("ioc", "LIMIT", price=26_000.0, validity="IOC"), "validity='IOC'"),
    ],
    ids=["option", "stop", "ioc"],
)
async def test_the_pre_open_refuses_what_the_futures_auction_does_not_take(
    journal_dir: Path, intent: OrderIntent, named: str
) -> None:
    svc = await started(journal_dir, ist_ns(FRI, 9, 0))
    try:
        await svc.on_tick(tick_at(intent.symbol, 26_000.0, ist_ns(FRI, 9, 1)))
        refused = await svc.execute_intent(intent)
    finally:
        await svc.stop()

    assert (refused.status, refused.reject_reason) == ("REJECTED", "session")
    assert refused.message is not None and refused.message.startswith("NFO is pre_open")
    assert named in refused.message


async def _pre_open_future(journal_dir: Path, *, restart: bool) -> None:
    svc = await started(journal_dir, ist_ns(FRI, 9, 0))
    try:
        await svc.on_tick(tick_at(FUT, 26_000.0, ist_ns(FRI, 9, 1)))
        await svc.execute_intent(order("pre", "LIMIT", price=26_020.0))
        if restart:
            await svc.stop()
            svc = await started(journal_dir, ist_ns(FRI, 9, 12))
        await svc.on_tick(tick_at(FUT, 26_005.0, ist_ns(FRI, 9, 13)))
        await svc.on_tick(tick_at(FUT, 26_010.0, ist_ns(FRI, 9, 15)))
    finally:
        await svc.stop()


async def test_a_restart_while_a_pre_open_future_waits_changes_nothing(tmp_path: Path) -> None:
    await _pre_open_future(tmp_path / "straight", restart=False)
    await _pre_open_future(tmp_path / "restarted", restart=True)

    assert fills(tmp_path / "straight", FRI) == [("pre", 26_010.0, ist_ns(FRI, 9, 15))]
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_a_pre_open_future_never_matched_ends_at_the_date_line_unlike_an_amo(journal_dir: Path) -> None:
    """A DAY order: the exchange ends it at the close (an AMO is the one carried to the next open)."""
    svc = await started(journal_dir, ist_ns(FRI, 9, 0))
    try:
        await svc.on_tick(tick_at(FUT, 26_000.0, ist_ns(FRI, 9, 1)))
        placed = await svc.execute_intent(order("pre", "LIMIT", price=25_900.0))
        await svc.on_tick(tick_at(MARKER, 800.0, ist_ns(SAT, 0, 0, 1)))
        working = [r.order.intent_id for r in svc.engine.state.orders.values() if r.working]
    finally:
        await svc.stop()

    assert placed.status == "PLACED"
    results = [e for e in journal_records(journal_dir / "2026-11-20.jsonl") if e["type"] == "result"]
    assert [r["status"] for r in results if r["intent_id"] == "pre"] == ["PLACED", "CANCELLED"]
    assert working == []


@pytest.mark.parametrize("pre_open_tick", [True, False], ids=["after-a-pre-open-tick", "before-any-tick"])
async def test_a_dry_run_future_in_the_pre_open_waits_for_the_open_instead_of_being_refused(
    tmp_path: Path, sim: KiteSimulator, pre_open_tick: bool
) -> None:
    """Dry-run's own check at the order's rate-limit slot (``cutoffs.session_refusal``) refuses an
    order out of the session: a future taken in the pre-open is not refused there, it waits, with
    or without a tick before it (``no_market_data`` is no refusal of an order that waits)."""
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True, slippage_bps=0)
    )
    clock = ReplayClock(ist_ns(FRI, 9, 0))
    async with ExecutionService(config, clock=clock, access_token="t", session_calendar=CALENDAR) as svc:
        seen = Collector(svc)
        if pre_open_tick:
            await svc.on_tick(Tick(symbol=FUT, last_price=26_000.0, ts_event=ist_ns(FRI, 9, 1)))
        placed = await svc.execute_intent(order("pre", "LIMIT", price=26_020.0))
        await seen.until("pre", "PLACED")
        await svc.on_tick(Tick(symbol=FUT, last_price=26_010.0, ts_event=ist_ns(FRI, 9, 15)))
        filled = await seen.until("pre", "FILLED")

    assert (placed.status, placed.mode) == ("PLACED", "dry-run"), placed.message
    assert (filled.filled_qty, filled.avg_price) == (1, 26_010.0)
    assert placements_per_tag(sim) == {}  # a dry run sends nothing


FAR = "NFO:NIFTY27JANFUT"
NIFTY_FUTURES = Instruments(
    [
        Instrument(
            instrument_token=token,
            exchange="NFO",
            tradingsymbol=symbol,
            instrument_type="FUT",
            segment="NFO-FUT",
            name="NIFTY",
            expiry=expiry,
            lot_size=1,
        )
        for token, symbol, expiry in ((1, "NIFTY26DECFUT", "2026-12-29"), (2, "NIFTY27JANFUT", "2027-01-26"))
    ]
    + [Instrument(instrument_token=779521, exchange="NSE", tradingsymbol="SBIN")]
)


async def test_the_pre_open_refuses_a_far_month_future_and_takes_the_current_month(journal_dir: Path) -> None:
    """The auction takes the current month's future only (the next month's too in the last five
    trading days before it expires: not on 20 Nov for a 29 Dec expiry); the engine's gate, the same
    in paper, dry-run and live, refuses the other as a session refusal naming the contract."""
    config = make_config(journal_dir, execution={"slippage_bps": 0})
    clock = ReplayClock(ist_ns(FRI, 9, 0))
    async with ExecutionService(
        config, clock=clock, session_calendar=CALENDAR, instruments=NIFTY_FUTURES
    ) as svc:
        await svc.on_tick(tick_at(FAR, 26_100.0, ist_ns(FRI, 9, 1)))
        await svc.on_tick(tick_at(FUT, 26_000.0, ist_ns(FRI, 9, 1)))
        far = await svc.execute_intent(order("far", symbol=FAR))
        near = await svc.execute_intent(order("near"))
        await svc.on_tick(tick_at(FAR, 26_100.0, ist_ns(FRI, 9, 15)))
        at_open = await svc.execute_intent(order("far-at-open", symbol=FAR))
    assert (far.status, far.reject_reason) == ("REJECTED", "session")
    assert far.message is not None and far.message.startswith("NFO is pre_open")
    assert "tradingsymbol='NIFTY27JANFUT' (expiry 2027-01-26)" in far.message
    assert "current month (expiry 2026-12-29)" in far.message and "variety='amo'" in far.message
    assert (near.status, at_open.status) == ("PLACED", "FILLED")
