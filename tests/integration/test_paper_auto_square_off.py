"""The paper broker's auto square-off: an MIS position left open at the date line is closed at its
last price with the broker's fee (₹50 + GST), journaled in the day that left it open, so its profit
or loss is booked (before, it left the books unbooked, listed as expired in the next day's opening)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar
from execsvc.clock import ReplayClock, ist_ns
from execsvc.costs import RateTable, fill_charges, segment_for
from execsvc.executors.paper.auto_square_off import REASON
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick
from tests.integration.test_live_day_modes import dry_run_config
from tests.integration.test_live_kite import Collector, live_config
from tests.integration.test_live_kite import tick as live_tick

NEXT_DAY = DAY + dt.timedelta(days=1)
NEXT_OPEN = ist_ns(NEXT_DAY, 9, 15)
DAY_FILE = f"{DAY.isoformat()}.jsonl"


def intent(side: str, qty: int, intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side=side, qty=qty, intent_id=intent_id, **kw)  # type: ignore[arg-type]


async def a_day_left_with_mis_open(journal_dir: Path) -> list[ExecutionResult]:
    """Long 4 MIS (and 10 NRML) from 1500, the last price 1490 at the close, then the next open."""
    seen: list[ExecutionResult] = []
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        svc.on_result(seen.append)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 10, "n1", product="NRML"))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.execute_intent(intent("BUY", 3, "rest", order_type="LIMIT", price=1400.0))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 29)))
        await svc.on_tick(tick("NSE:INFY", 1510.0, NEXT_OPEN))  # the date line
    return seen


async def test_an_mis_position_left_open_is_squared_off_at_the_last_price_with_the_brokers_fee(
    journal_dir,
):
    seen = await a_day_left_with_mis_open(journal_dir)

    day = journal_records(journal_dir / DAY_FILE)
    squared = [e for e in day if e.get("intent_id") == "auto-sqoff-20261120-1"]
    assert [e["type"] for e in squared] == ["intent", "order_accepted", "fill", "result"]
    order, fill, result = squared[0], squared[2], squared[3]
    terms = {**{"product": "MIS", "order_type": "MARKET"}, **order}  # defaults are not journaled
    assert [terms[k] for k in ("side", "qty", "product", "order_type", "strategy_code")] == [
        "SELL", 4, "MIS", "MARKET", "s1",
    ]  # fmt: skip
    assert (fill["qty"], fill["price"]) == (4, 1489.25)  # 1490 less 5 bps, down to the tick
    rates = RateTable.load("configs/charges.yaml").rates_for(segment_for("NSE", "EQ"), "MIS", DAY, "NSE")
    plain = fill_charges(rates, side="SELL", price=1489.25, qty=4)
    assert fill["charges"]["auto_square_off"] == 50.0
    assert fill["charges"]["gst"] == round(plain.gst + 9.0, 4)  # 18 % GST on the fee too
    assert fill["charges"]["total"] == round(plain.total + 59.0, 4)
    assert (result["status"], result["filled_qty"], result["message"]) == ("FILLED", 4, REASON)
    # the resting LIMIT expired first, then the position was closed: nothing of the day is working
    assert [e["status"] for e in day if e["type"] == "result" and e["intent_id"] == "rest"][-1] == "CANCELLED"

    state = fold_file(journal_dir / DAY_FILE)
    mis = state.position("s1", "NSE:INFY", "MIS")
    assert mis is not None and mis.net_qty == 0
    bought = next(e for e in day if e["type"] == "fill" and e["intent_id"] == "m1")
    assert mis.realized_gross == round((1489.25 - bought["price"]) * 4, 6)
    assert mis.realized_net == round(
        mis.realized_gross - bought["charges"]["total"] - fill["charges"]["total"], 6
    )

    opening = journal_records(journal_dir / f"{NEXT_DAY.isoformat()}.jsonl")[1]
    assert opening["type"] == "positions_carried"
    assert [(p.get("product", "MIS"), p["net_qty"]) for p in opening["positions"]] == [("NRML", 10)]
    assert "expired" not in opening  # nothing left to expire
    assert [r.status for r in seen if r.intent_id == "auto-sqoff-20261120-1"] == ["FILLED"]
    verify_file(journal_dir / DAY_FILE)


async def test_a_restart_after_the_date_line_neither_squares_off_again_nor_loses_it(journal_dir):
    await a_day_left_with_mis_open(journal_dir)
    before = (journal_dir / DAY_FILE).read_bytes()
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
        positions = {(p.product, p.net_qty) for p in svc.positions() if p.net_qty}
        repeat = await svc.execute_intent(intent("SELL", 4, "auto-sqoff-20261120-1"))
    assert positions == {("NRML", 10)}
    assert (journal_dir / DAY_FILE).read_bytes() == before
    assert (repeat.status, repeat.message) == ("FILLED", REASON)  # its own id is answered, never re-placed


async def test_the_same_day_replayed_gives_the_same_bytes(tmp_path):
    await a_day_left_with_mis_open(tmp_path / "a")
    await a_day_left_with_mis_open(tmp_path / "b")
    for name in (DAY_FILE, f"{NEXT_DAY.isoformat()}.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


async def test_a_position_with_no_tick_since_a_restart_closes_at_the_journals_last_price(journal_dir):
    """Restarted late in the day, no tick of the instrument since: the date line closes it at the
    last price the day's journal knows (its fill), as a start after the line would, instead of
    letting it expire with its P&L unbooked (a restart at 23:59 and one at 00:01 book the same)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        sold = await svc.execute_intent(intent("SELL", 4, "m1"))
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 15, 0))) as svc:
        await svc.on_tick(tick("NSE:TCS", 4000.0, ist_ns(DAY, 15, 1)))
        await svc.on_tick(tick("NSE:TCS", 4001.0, NEXT_OPEN))  # the date line
    squared = [
        e for e in journal_records(journal_dir / DAY_FILE) if e.get("intent_id", "").startswith("auto-sqoff")
    ]
    assert squared[0]["metadata"] == {"last_price": sold.avg_price}  # the journal's last price
    assert [(e["side"], e["qty"]) for e in squared if e["type"] == "fill"] == [("BUY", 4)]
    opening = journal_records(journal_dir / f"{NEXT_DAY.isoformat()}.jsonl")[1:]
    assert not [e for e in opening if e.get("expired")]


async def test_dry_run_squares_off_too(tmp_path, sim):
    """Dry-run's broker is the paper simulator: it holds no position the real broker would close."""
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(dry_run_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        await svc.on_tick(live_tick(1500.0))
        bought = await svc.execute_intent(intent("BUY", 4, "m1"))
        clock.advance_to(NEXT_OPEN)
        await svc.on_tick(live_tick(1490.0))
        journal = Path(svc.config.journal.dir)
    assert bought.status == "FILLED" and bought.mode == "dry-run"
    squared = [
        e for e in journal_records(journal / DAY_FILE) if e.get("intent_id") == "auto-sqoff-20261120-1"
    ]
    assert [(e["type"], e.get("status")) for e in squared][-1] == ("result", "FILLED")
    assert next(e for e in squared if e["type"] == "fill")["charges"]["auto_square_off"] == 50.0
    assert sim.orders() == []  # nothing went to the broker


def with_calendar(svc: ExecutionService) -> ExecutionService:
    """The session calendar the daemon and ``execsvc replay`` give the engine (``session.enforce``)."""
    session = svc.config.session
    svc.engine.calendar = MarketCalendar(session, Holidays.load(session.holidays_file))
    return svc


async def test_with_the_session_calendar_the_broker_squares_off_at_its_time_and_takes_no_fresh_mis(
    journal_dir,
):
    """NSE equity at 15:20 and NFO at 15:25 (FACTS section 6), each at its first tick from then:
    working MIS orders are cancelled, positions closed at that tick's price with the fee; a fresh
    MIS order is refused from that time on; CNC and after-market orders are not the broker's."""
    future = "NFO:NIFTY26DECFUT"
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick(future, 26_000.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.execute_intent(intent("BUY", 3, "mis-rest", order_type="LIMIT", price=1400.0))
        await svc.execute_intent(
            intent("BUY", 2, "cnc-rest", order_type="LIMIT", price=1400.0, product="CNC")
        )
        await svc.execute_intent(
            OrderIntent(symbol=future, strategy_code="s1", side="SELL", qty=75, intent_id="f1")
        )
        await svc.on_tick(tick("NSE:INFY", 1495.0, ist_ns(DAY, 15, 19, 59)))
        before = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20)))
        await svc.on_tick(tick(future, 26_100.0, ist_ns(DAY, 15, 24, 59)))
        at_1524 = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        refused = await svc.execute_intent(intent("BUY", 1, "late-mis"))
        cnc = await svc.execute_intent(intent("BUY", 1, "late-cnc", product="CNC"))
        queued = await svc.execute_intent(intent("BUY", 1, "late-amo", variety="amo"))
        nfo_still = await svc.execute_intent(
            OrderIntent(symbol=future, strategy_code="s1", side="SELL", qty=75, intent_id="f2")
        )
        await svc.on_tick(tick(future, 26_200.0, ist_ns(DAY, 15, 25)))
        after = {(p.symbol, p.product, p.net_qty) for p in svc.positions() if p.net_qty}
        working = sorted(r.order.intent_id for r in svc.engine.state.working_orders())
    assert before == [("NSE:INFY", 4), (future, -75)]
    assert at_1524 == [(future, -75)]
    assert after == {("NSE:INFY", "CNC", 1)}
    assert working == ["cnc-rest", "late-amo"]
    why = "NSE takes no MIS order after the broker's auto square-off at 15:20 IST"
    assert (refused.status, refused.reject_reason, refused.message) == (
        "REJECTED",
        "after_auto_square_off",
        why,
    )
    assert (cnc.status, queued.status, nfo_still.status) == ("FILLED", "PLACED", "FILLED")

    day = journal_records(journal_dir / DAY_FILE)
    closing = [e for e in day if e["type"] == "fill" and e.get("intent_id", "").startswith("auto-sqoff")]
    assert [(e["symbol"], e["side"], e["qty"], e["price"], e["ts_event"]) for e in closing] == [
        ("NSE:INFY", "SELL", 4, 1489.25, ist_ns(DAY, 15, 20)),  # 1490 less 5 bps, down to the tick
        (future, "BUY", 150, 26_213.1, ist_ns(DAY, 15, 25)),  # both SELLs, at 26,200 plus 5 bps
    ]
    assert [e["charges"].get("auto_square_off") for e in closing] == [50.0, 50.0]
    cancelled = [e for e in day if e["type"] == "result" and e["intent_id"] == "mis-rest"][-1]
    assert (cancelled["status"], cancelled["message"]) == (
        "CANCELLED",
        "cancelled by the broker's auto square-off",
    )


@pytest.mark.parametrize("dry_run", [False, True])
async def test_live_the_broker_squares_off_and_the_service_books_nothing_itself(tmp_path, sim, dry_run):
    """Live, the paper executor only keeps market state: its square-off must never write a fill."""
    config = dry_run_config(tmp_path, sim) if dry_run else live_config(tmp_path, sim)
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(config, clock=clock, access_token="t") as svc:
        with_calendar(svc)
        seen = Collector(svc)
        await svc.on_tick(live_tick(1500.0))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        bought = await seen.until("m1", "FILLED")  # live: the broker's fill follows its acknowledgement
        clock.advance_to(ist_ns(DAY, 15, 21))
        await svc.on_tick(live_tick(1490.0))
        if dry_run:  # the simulated broker answers a fresh MIS order past its time as Zerodha would
            await svc.execute_intent(intent("BUY", 1, "late"))
            late = await seen.until("late", "REJECTED")
            why = "NSE takes no MIS order after the broker's auto square-off at 15:20 IST"
            assert (late.reject_reason, late.message) == ("after_auto_square_off", why)
        journal = Path(svc.config.journal.dir)
        net = sum(p.net_qty for p in svc.positions())
    assert bought.filled_qty == 4
    squared = [
        e for e in journal_records(journal / DAY_FILE) if e.get("intent_id", "").startswith("auto-sqoff")
    ]
    assert (net, bool(squared)) == ((0, True) if dry_run else (4, False))
