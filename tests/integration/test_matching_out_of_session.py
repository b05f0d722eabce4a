"""Paper matching and ticks out of the session, with the session calendar: no exchange matches
anything before its open or after its close.

Kite's ticker sends ticks after the close (and a feed resends its last ones on reconnecting). They
used to fill resting orders: an NRML LIMIT resting at NFO's 15:30 close filled on a 15:35 tick, a
trade no exchange made. Now such a tick is the market's last price (it marks positions and is
journaled as a session close) but fills nothing: no LIMIT fill, no stop trigger, no change worked
again at a marketable price. A DAY order still working then expires unfilled at the date line.
Without a calendar (the embedded default) a tick at any hour matches, as before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_live_kite import Collector, live_config, placements_per_tag
from tests.integration.test_live_kite import tick as live_tick
from tests.unit.test_kite_ratelimit import JumpClock

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
FUT, STOCK, CRUDE = "NFO:NIFTY26DECFUT", "NSE:INFY", "MCX:CRUDEOIL26DECFUT"
MARKER = "NSE:SBIN"  # no order names it: its tick only moves the clock
DATE_LINE = tick(MARKER, 800.0, ist_ns(FRI, 0, 0, 1))


def order(
    intent_id: str, side: str, order_type: str, *, symbol: str = FUT, product: str = "NRML", **terms: Any
) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side=side, qty=1, product=product, order_type=order_type,
        intent_id=intent_id, **terms,
    )  # fmt: skip


async def started(journal_dir: Path, at: int, *, calendar: bool = True) -> ExecutionService:
    config = make_config(
        journal_dir, execution={"slippage_bps": 0}, market={"multipliers": {"MCX:CRUDEOIL": 100}}
    )
    svc = ExecutionService(config, clock=ReplayClock(at), session_calendar=CALENDAR if calendar else False)
    await svc.start()
    return svc


def fills(journal_dir: Path, day: dt.date) -> list[tuple[str, float, int]]:
    records = journal_records(journal_dir / f"{day.isoformat()}.jsonl")
    return [(e["intent_id"], e["price"], e["ts_event"]) for e in records if e["type"] == "fill"]


def kinds(journal_dir: Path, day: dt.date) -> list[str]:
    return [e["type"] for e in journal_records(journal_dir / f"{day.isoformat()}.jsonl")]


def last_result(journal_dir: Path, day: dt.date, intent_id: str) -> tuple[str, str]:
    records = journal_records(journal_dir / f"{day.isoformat()}.jsonl")
    result = [e for e in records if e["type"] == "result" and e["intent_id"] == intent_id][-1]
    return result["status"], result.get("message") or ""


def journaled(journal_dir: Path) -> dict[str, list[tuple[int, Any]]]:
    return {
        day: [(r.ts, r.ev) for r in read_journal(journal_path(journal_dir, day)).records]
        for day in journal_days(journal_dir)
    }


@pytest.mark.parametrize(
    ("calendar", "filled_after_the_close"), [(True, False), (False, True)], ids=["calendar", "no-calendar"]
)
async def test_a_limit_resting_at_the_close_is_not_filled_by_a_post_close_tick_and_expires(
    journal_dir: Path, calendar: bool, filled_after_the_close: bool
) -> None:
    """A day LIMIT resting at NFO's 15:30 close meets a crossing 15:35 tick: with the calendar it
    stays unfilled and the date line ends it; without one the tick fills it, as before."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15), calendar=calendar)
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 10, 0)))
        placed = await svc.execute_intent(order("bid", "BUY", "LIMIT", price=26_000.0))
        await svc.on_tick(tick(FUT, 25_990.0, ist_ns(THU, 15, 35), bid=25_985.0, ask=25_990.0))
        held_after_the_close = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        last_price = svc.engine.paper.last_price(FUT)
        await svc.on_tick(DATE_LINE)
        await svc.on_tick(tick(FUT, 25_950.0, ist_ns(FRI, 9, 20)))  # in the next session: gone by then
    finally:
        await svc.stop()

    assert placed.status == "PLACED"
    assert last_price == 25_990.0  # the post-close tick is the market's last price all the same
    if filled_after_the_close:
        assert held_after_the_close == [(FUT, 1)]
        assert fills(journal_dir, THU) == [("bid", 26_000.0, ist_ns(THU, 15, 35))]
        return
    assert held_after_the_close == []
    assert fills(journal_dir, THU) == []
    assert fills(journal_dir, FRI) == []
    status, message = last_result(journal_dir, THU, "bid")
    assert status == "CANCELLED"
    assert "day" in message.lower()


@pytest.mark.parametrize("order_type", ["SL", "SL-M"])
async def test_a_stop_working_at_the_close_is_not_triggered_by_a_post_close_tick(
    journal_dir: Path, order_type: str
) -> None:
    """A stop-loss SELL under a long future: a 15:35 tick through its trigger triggers nothing,
    the position is carried (NRML) and the stop expires at the date line."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 10, 0)))
        assert (await svc.execute_intent(order("long", "BUY", "MARKET"))).status == "FILLED"
        price = {"price": 25_900.0} if order_type == "SL" else {}
        stop = await svc.execute_intent(order("stop", "SELL", order_type, trigger_price=25_950.0, **price))
        await svc.on_tick(tick(FUT, 25_940.0, ist_ns(THU, 15, 35), bid=25_935.0, ask=25_940.0))
        held_after_the_close = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(DATE_LINE)
    finally:
        await svc.stop()

    assert stop.status == "PLACED"
    assert held_after_the_close == [(FUT, 1)]
    assert "order_triggered" not in kinds(journal_dir, THU)
    assert fills(journal_dir, THU) == [("long", 26_050.0, ist_ns(THU, 10, 0))]
    assert last_result(journal_dir, THU, "stop")[0] == "CANCELLED"


async def test_a_stop_resting_as_a_limit_after_its_trigger_fills_nothing_after_the_close(
    journal_dir: Path,
) -> None:
    """An SL triggered in the session whose LIMIT did not fill rests as a LIMIT: a 15:35 tick
    through that limit fills nothing either."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 10, 0)))
        stop = await svc.execute_intent(order("stop", "BUY", "SL", trigger_price=26_100.0, price=26_100.0))
        await svc.on_tick(tick(FUT, 26_120.0, ist_ns(THU, 15, 0), bid=26_115.0, ask=26_120.0))
        assert stop.order_id is not None
        triggered_in_the_session = svc.engine.state.orders[stop.order_id].triggered
        await svc.on_tick(tick(FUT, 26_080.0, ist_ns(THU, 15, 35), bid=26_075.0, ask=26_080.0))
        held_after_the_close = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    finally:
        await svc.stop()

    assert triggered_in_the_session
    assert held_after_the_close == []
    assert fills(journal_dir, THU) == []


async def test_an_amo_limit_waits_out_the_pre_open_and_fills_in_the_session(journal_dir: Path) -> None:
    """An AMO placed after the close is the order still working the next day: a crossing tick in
    the pre-open (09:00-09:15) fills nothing and a regular MARKET order then is refused; the open
    sends it out (not marketable), and an in-session tick through its limit fills it."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(STOCK, 1_500.0, ist_ns(THU, 15, 0)))
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(THU, 15, 45)))
        queued = await svc.execute_intent(
            order("amo", "BUY", "LIMIT", symbol=STOCK, price=1_490.0, variety="amo", product="CNC")
        )
        await svc.on_tick(tick(STOCK, 1_480.0, ist_ns(FRI, 9, 5)))
        pre_open_market = await svc.execute_intent(
            order("pre-open", "BUY", "MARKET", symbol=STOCK, product="CNC")
        )
        held_in_the_pre_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick(STOCK, 1_495.0, ist_ns(FRI, 9, 15)))
        held_at_the_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick(STOCK, 1_488.0, ist_ns(FRI, 9, 20)))
        held_later = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    finally:
        await svc.stop()

    assert queued.status == "PLACED"
    assert (pre_open_market.status, pre_open_market.reject_reason) == ("REJECTED", "session")
    assert "NSE is pre_open" in (pre_open_market.message or "")
    assert held_in_the_pre_open == held_at_the_open == []
    assert held_later == [(STOCK, 1)]
    assert fills(journal_dir, FRI) == [("amo", 1_490.0, ist_ns(FRI, 9, 20))]


async def test_a_market_order_after_the_close_is_refused_by_the_session(journal_dir: Path) -> None:
    """Zerodha refuses a regular order out of market hours: so does the engine's calendar check,
    before the simulated broker sees it (nothing is accepted, nothing fills at the 15:35 price)."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 15, 35)))
        result = await svc.execute_intent(order("late", "BUY", "MARKET"))
    finally:
        await svc.stop()

    assert (result.status, result.reject_reason) == ("REJECTED", "session")
    assert result.message == (
        "NFO is post_close (the session closed at 15:30 IST): next open 2026-11-20 09:15 IST; "
        "send variety='amo' to queue an after-market order"
    )
    assert "order_accepted" not in kinds(journal_dir, THU)
    assert fills(journal_dir, THU) == []


async def test_a_change_to_a_working_order_after_the_close_is_refused_and_fills_nothing(
    journal_dir: Path,
) -> None:
    """Raising a resting bid through the market after the close would work it again against the
    15:35 tick: the simulated exchange takes no change out of its session; the order is as it was."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 10, 0)))
        placed = await svc.execute_intent(order("bid", "BUY", "LIMIT", price=26_000.0))
        await svc.on_tick(tick(FUT, 26_040.0, ist_ns(THU, 15, 35)))
        assert placed.order_id is not None
        answer = await svc.modify_order(placed.order_id, price=26_100.0)
        working_price = svc.engine.state.orders[placed.order_id].order.price
    finally:
        await svc.stop()

    assert answer.status == "PLACED"
    assert answer.message == (
        "modify refused: NFO is post_close (the session closed at 15:30 IST): next open 2026-11-20 09:15 IST"
    )
    assert working_price == 26_000.0
    assert "order_modified" not in kinds(journal_dir, THU)
    assert fills(journal_dir, THU) == []


async def test_an_mcx_order_resting_in_the_evening_still_fills(journal_dir: Path) -> None:
    """MCX trades till 23:30 (23:55 in the US winter): a LIMIT resting at 18:00 fills at 21:00,
    after the equity and F&O closes; a stop triggers at 22:00."""
    svc = await started(journal_dir, ist_ns(THU, 9, 0))
    try:
        await svc.on_tick(tick(CRUDE, 6_000.0, ist_ns(THU, 18, 0)))
        bid = await svc.execute_intent(order("bid", "BUY", "LIMIT", symbol=CRUDE, price=5_990.0))
        stop = await svc.execute_intent(order("stop", "SELL", "SL-M", symbol=CRUDE, trigger_price=5_950.0))
        await svc.on_tick(tick(CRUDE, 5_985.0, ist_ns(THU, 21, 0)))
        await svc.on_tick(tick(CRUDE, 5_945.0, ist_ns(THU, 22, 0)))
    finally:
        await svc.stop()

    assert (bid.status, stop.status) == ("PLACED", "PLACED")
    assert fills(journal_dir, THU) == [
        ("bid", 5_990.0, ist_ns(THU, 21, 0)),
        ("stop", 5_945.0, ist_ns(THU, 22, 0)),
    ]


async def _resting_past_the_close(journal_dir: Path, *, restart: bool) -> None:
    """Long one future and a bid resting under it at the close; a crossing 15:35 tick; with
    ``restart`` the service starts again on its journal at 15:40 and its feed sends the last tick
    again (so is the run that goes on); then the date line and the next session."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(THU, 10, 0)))
        assert (await svc.execute_intent(order("long", "BUY", "MARKET"))).status == "FILLED"
        assert (await svc.execute_intent(order("bid", "BUY", "LIMIT", price=26_000.0))).status == "PLACED"
        last = tick(FUT, 25_980.0, ist_ns(THU, 15, 35), bid=25_975.0, ask=25_980.0)
        await svc.on_tick(last)
        if restart:
            await svc.stop()
            svc = await started(journal_dir, ist_ns(THU, 15, 40))
        await svc.on_tick(last)
        await svc.on_tick(DATE_LINE)
        await svc.on_tick(tick(FUT, 25_990.0, ist_ns(FRI, 9, 15)))
    finally:
        await svc.stop()


async def test_a_restart_after_the_close_with_an_order_resting_changes_nothing(tmp_path: Path) -> None:
    await _resting_past_the_close(tmp_path / "straight", restart=False)
    await _resting_past_the_close(tmp_path / "restarted", restart=True)

    assert fills(tmp_path / "straight", THU) == [("long", 26_050.0, ist_ns(THU, 10, 0))]
    assert last_result(tmp_path / "straight", THU, "bid")[0] == "CANCELLED"
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def _order_only_at_the_close(journal_dir: Path, *, restart: bool) -> list[tuple[str, int]]:
    """The case the last worker reported: a symbol held only by a working order at the close,
    with no tick since a start in the session (so it has no price then); the order is cancelled
    after the close; with ``restart`` the service starts again there; then a late tick of it.
    Returns what each ``session_closes`` record named, and when."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(STOCK, 1_500.0, ist_ns(THU, 10, 0)))
        bid = await svc.execute_intent(
            order("bid", "BUY", "LIMIT", symbol=STOCK, price=1_450.0, product="CNC")
        )
        await svc.stop()
        svc = await started(journal_dir, ist_ns(THU, 14, 0))  # a restart in the session: no INFY tick since
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(THU, 15, 35)))  # the first input past NSE's close
        assert bid.order_id is not None
        assert (await svc.cancel_order(bid.order_id)).status == "CANCELLED"
        if restart:
            await svc.stop()
            svc = await started(journal_dir, ist_ns(THU, 15, 40))
        await svc.on_tick(tick(STOCK, 1_440.0, ist_ns(THU, 15, 45)))
        await svc.on_tick(DATE_LINE)
    finally:
        await svc.stop()
    records = journal_records(journal_dir / f"{THU.isoformat()}.jsonl")
    return [
        (c["symbol"], e["ts_event"]) for e in records if e["type"] == "session_closes" for c in e["closes"]
    ]


async def test_an_order_cancelled_after_the_close_leaves_no_close_to_journal_with_or_without_a_restart(
    tmp_path: Path,
) -> None:
    """The straight run used to watch INFY from the close on (held by the bid, no price yet) and
    journal its 15:45 tick; the restarted run, which did not rebuild that watch, did not: a restart
    changed the journal. No order fills after its exchange's close, so only positions need a
    close price (the date line closes positions, never orders): neither run watches INFY."""
    straight = await _order_only_at_the_close(tmp_path / "straight", restart=False)
    restarted = await _order_only_at_the_close(tmp_path / "restarted", restart=True)

    assert straight == restarted, (straight, restarted)
    assert straight == []
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_a_dry_run_order_whose_rate_limit_slot_comes_after_the_close_is_refused(
    tmp_path: Path, sim: KiteSimulator
) -> None:
    """Taken at 15:29:59 behind another order, its slot comes at 15:30:01: Kite would refuse a
    regular order then, so dry-run answers REJECTED ``session`` instead of filling it at the
    simulated exchange after its close."""
    config = live_config(tmp_path, sim, rate_limits={"orders_per_second": 1, "margin_seconds": 0.0})
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    clock = ReplayClock(ist_ns(FRI, 15, 29, 59))
    svc = ExecutionService(config, clock=clock, access_token="t", session_calendar=CALENDAR)
    limiter_clock = JumpClock(start=0.0)

    async def wait_past_the_close(seconds: float) -> None:  # a wait for a slot: the close passes meanwhile
        clock.advance_to(ist_ns(FRI, 15, 30, 1))
        await limiter_clock.sleep(seconds)

    svc.limiter = RateLimiter(config.kite.rate_limits, clock=limiter_clock, sleep=wait_past_the_close)
    async with svc:
        seen = Collector(svc)
        await svc.on_tick(live_tick(1_500.0))
        first = await svc.execute_intent(order("first", "BUY", "MARKET", symbol=STOCK, product="CNC"))
        await svc.execute_intent(order("second", "BUY", "MARKET", symbol=STOCK, product="CNC"))
        second = await seen.until("second", "REJECTED")
        held = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert (first.status, first.mode) == ("FILLED", "dry-run")
    assert second.reject_reason == "session"
    assert (
        second.message
        == "NSE is post_close (the session closed at 15:30 IST): next open 2026-11-23 09:15 IST"
    )
    assert held == [(STOCK, 1)]
    assert limiter_clock.sleeps, "the second order did not wait for a slot"
    assert placements_per_tag(sim) == {}  # a dry run sends nothing
