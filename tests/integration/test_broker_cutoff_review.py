"""Review of the paper broker's MIS auto square-off at its own time in the session (``BrokerCutoffs``,
``square_off_symbol``): what a trader meets past the cut-off, after a restart, and what it costs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import MarketCalendar
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.replay import Replayer
from execsvc.market.ticks import Tick
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick
from tests.integration.test_live_day_modes import dry_run_config
from tests.integration.test_live_kite import Collector
from tests.integration.test_live_kite import tick as live_tick
from tests.integration.test_paper_auto_square_off import DAY_FILE, NEXT_OPEN, intent, with_calendar


async def test_an_mis_amo_placed_past_the_cut_off_waits_for_the_next_session(journal_dir: Path):
    """An after-market order is not refused past the broker's time, but it must wait for the next
    session: the simulator sent it out with the instrument's next tick, at 15:22 the same day, so a
    fresh MIS position opened after the broker's square-off (and was left to the date line)."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 21)))
        queued = await svc.execute_intent(intent("BUY", 4, "late-amo", variety="amo"))
        await svc.on_tick(tick("NSE:INFY", 1491.0, ist_ns(DAY, 15, 22)))
        today = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        waiting = [r.order.intent_id for r in svc.engine.state.working_orders() if r.waits_for_open]
        await svc.on_tick(tick("NSE:INFY", 1510.0, NEXT_OPEN))  # the date line: a Saturday, closed
        saturday = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick("NSE:INFY", 1512.0, ist_ns(DAY + dt.timedelta(days=3), 9, 15)))
        next_session = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert queued.status == "PLACED"
    assert today == [], "an MIS AMO filled after the broker's square-off time"
    assert waiting == ["late-amo"]
    assert saturday == [], "an MIS AMO went out with a tick of a day the exchange does not trade"
    assert next_session == [("MIS", 4)]
    day = journal_records(journal_dir / DAY_FILE)
    assert not [e for e in day if e["type"] == "fill" and e["intent_id"] == "late-amo"]
    assert not [e for e in day if e.get("intent_id", "").startswith("auto-sqoff")]


async def test_dry_run_holds_an_mis_amo_placed_past_the_cut_off_too(tmp_path: Path, sim):
    """Dry-run hands its orders to the same simulator: the same AMO must not fill today either."""
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(dry_run_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        with_calendar(svc)
        seen = Collector(svc)
        await svc.on_tick(live_tick(1500.0))
        clock.advance_to(ist_ns(DAY, 15, 21))
        await svc.on_tick(live_tick(1490.0))
        await svc.execute_intent(intent("BUY", 4, "late-amo", variety="amo"))
        await seen.until("late-amo", "PLACED")
        clock.advance_to(ist_ns(DAY, 15, 22))
        await svc.on_tick(live_tick(1491.0))
        today = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        waiting = [r.order.intent_id for r in svc.engine.state.working_orders() if r.waits_for_open]
    assert today == [], "a dry-run MIS AMO filled after the broker's square-off time"
    assert waiting == ["late-amo"]
    assert sim.orders() == []  # nothing went to the broker


async def test_a_calendar_given_after_the_first_ticks_still_squares_off(journal_dir: Path):
    """A library caller that hands the engine its calendar once the service runs: the times worked
    out before (none, without a calendar) were kept for the day, so INFY, ticked before, was never
    squared off and took fresh MIS orders past 15:20."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20)))
        late = await svc.execute_intent(intent("BUY", 1, "late"))
        open_mis = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert open_mis == []
    assert (late.status, late.reject_reason) == ("REJECTED", "after_auto_square_off")


async def test_mcx_on_an_evening_only_holiday_squares_off_25_minutes_before_its_close(journal_dir: Path):
    """Holi 2026: NSE is shut, MCX trades 17:00-23:55 (configs/holidays-2026.yaml; 3 March is still
    the US winter): the broker's time is 23:30, the day's only one (the tick path's ``earliest``)."""
    holi, crude = dt.date(2026, 3, 3), "MCX:CRUDEOIL26MARFUT"
    config = make_config(journal_dir, market={"multipliers": {"MCX:CRUDEOIL": 100}})
    async with ExecutionService(config, clock=ReplayClock(ist_ns(holi, 17, 0))) as svc:
        with_calendar(svc)
        await svc.on_tick(tick(crude, 6000.0, ist_ns(holi, 17, 0, 1)))
        bought = await svc.execute_intent(
            OrderIntent(symbol=crude, strategy_code="s1", side="BUY", qty=100, intent_id="c1")
        )
        await svc.on_tick(tick(crude, 6010.0, ist_ns(holi, 23, 29, 59)))
        before = [p.net_qty for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick(crude, 6020.0, ist_ns(holi, 23, 30)))
        after = [p.net_qty for p in svc.positions() if p.net_qty]
        late = await svc.execute_intent(
            OrderIntent(symbol=crude, strategy_code="s1", side="BUY", qty=100, intent_id="c2")
        )
    assert bought.status == "FILLED"
    assert (before, after) == ([100], [])
    why = "MCX takes no MIS order after the broker's auto square-off at 23:30 IST"
    assert (late.status, late.message) == ("REJECTED", why)


async def test_a_resting_mis_order_modified_past_the_cut_off_does_not_fill(journal_dir: Path):
    """The broker cancels working MIS orders at its time; the simulator does so at the instrument's
    exchange's first tick from then. A modification in between (the clock moved on with a tick of
    another exchange) worked the order again against INFY's last tick: it filled at 15:20:30, a fresh
    MIS position after the broker's square-off."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        rest = await svc.execute_intent(intent("BUY", 3, "mis-rest", order_type="LIMIT", price=1400.0))
        await svc.on_tick(tick("NSE:INFY", 1495.0, ist_ns(DAY, 15, 19, 59)))
        await svc.on_tick(tick("NFO:NIFTY26DECFUT", 26_000.0, ist_ns(DAY, 15, 20, 30)))  # NFO: 15:25
        assert rest.order_id is not None
        answer = await svc.modify_order(rest.order_id, price=1500.0)
        open_mis = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert open_mis == [], "a modification past the cut-off filled an MIS order"
    assert (answer.status, answer.filled_qty) == ("CANCELLED", 0)
    assert answer.message == "cancelled by the broker's auto square-off"
    day = journal_records(journal_dir / DAY_FILE)
    assert not [e for e in day if e["type"] == "fill" and e["intent_id"] == "mis-rest"]


class BuysOnceWithoutAnId:
    """Buys 100 MIS on its first tick, leaving the id to the engine, and holds (the broker squares
    it off at 15:20)."""

    strategy_code = "HOLD"

    def __init__(self) -> None:
        self.ticks = 0

    def on_tick(self, t: Tick, ctx: Any) -> None:
        self.ticks += 1
        if self.ticks == 1:
            ctx.submit(OrderIntent(symbol=t.symbol, strategy_code="HOLD", side="BUY", qty=100))


async def test_a_replay_restarted_at_the_first_tick_journals_no_intent_id_twice(journal_dir: Path):
    """The daemon's replay restarts its clock at the file's first tick: the engine's ids for intents
    that came without one (strategy, time, a counter that starts again) were those of the first run,
    so the same id was journaled a second time for a new order (and its square-off)."""
    ticks = [
        tick("NSE:INFY", price, ts)
        for price, ts in ((1500.0, OPEN_NS + SECOND), (1480.0, ist_ns(DAY, 15, 21)))
    ]
    for _run in range(2):  # the second is the restart, on the same journal
        async with ExecutionService(make_config(journal_dir), clock=ReplayClock(ticks[0].ts_event)) as svc:
            with_calendar(svc)
            await Replayer(svc, [BuysOnceWithoutAnId()]).run(ticks)
    intents = [e["intent_id"] for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "intent"]
    assert len(intents) == len(set(intents)), f"an intent id journaled twice: {intents}"


@pytest.mark.parametrize(
    ("s2_qty", "fees"),
    [(3, [28.5714, 21.4286]), (-4, [0.0, 0.0]), (-5, [0.0, 50.0])],
    ids=["both-long", "netted-flat", "the-second-on-the-accounts-side"],
)
async def test_a_square_off_cut_short_by_a_crash_charges_the_brokers_fee_once(
    journal_dir: Path, s2_qty: int, fees: list[float]
):
    """s1 long 4 MIS in INFY and s2 ``s2_qty``: the broker closes the account's net position with one
    order and one fee (none when flat), shared by the positions on the account's side pro rata.
    kill -9 after s1's close is journaled and before s2's: the restart squares s2 off at its first
    tick with the figures of the broker's one order (observed before it was journaled: the fee
    charged as if s2 were the account's whole position, both-long and netted-flat: 50.0, not 0.0)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for code, qty in (("s1", 4), ("s2", s2_qty)):
            side = "BUY" if qty > 0 else "SELL"
            await svc.execute_intent(
                OrderIntent(symbol="NSE:INFY", strategy_code=code, side=side, qty=abs(qty), intent_id=code)
            )
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20)))
    day_file = journal_dir / DAY_FILE
    straight = [
        (e["strategy_code"], e["price"], e["charges"])
        for e in journal_records(day_file)
        if e["type"] == "fill" and e["intent_id"].startswith("auto-sqoff")
    ]
    lines = day_file.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"result"' in line and "auto-sqoff-20261120-1" in line)
    day_file.write_text("".join(lines[: cut + 1]))  # the crash: s2's close never written

    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 15, 21))) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1489.0, ist_ns(DAY, 15, 21)))  # another price: not its
        open_mis = [(p.strategy_code, p.net_qty) for p in svc.positions() if p.net_qty]
    fills = [
        e
        for e in journal_records(day_file)
        if e["type"] == "fill" and e["intent_id"].startswith("auto-sqoff")
    ]
    assert open_mis == []
    assert [(f["strategy_code"], f["qty"]) for f in fills] == [("s1", 4), ("s2", abs(s2_qty))]
    assert [f["charges"].get("auto_square_off", 0.0) for f in fills] == fees
    assert [(f["strategy_code"], f["price"], f["charges"]) for f in fills] == straight


async def test_a_restart_past_the_cut_off_changes_nothing(journal_dir: Path):
    """Squared off at 15:20 (a position, a stop waiting for its trigger, a partly filled LIMIT of
    another strategy, a waiting MIS AMO), stopped, started again at 15:22: the first tick finds
    nothing to square off again, an MIS order is still refused, the AMO still waits."""
    config = make_config(journal_dir, execution={"use_depth": True})  # fills take what the book shows
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND, bid=1499.0, ask=1500.0))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.execute_intent(intent("SELL", 4, "stop", order_type="SL-M", trigger_price=1450.0))
        await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s2", side="BUY", qty=3000, intent_id="part",
                        order_type="LIMIT", price=1490.0)
        )  # fmt: skip
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 12, 0), bid=1489.0, ask=1490.0))
        await svc.execute_intent(intent("BUY", 2, "amo", variety="amo"))
        partial = svc.engine.state.latest_results["part"]
        await svc.on_tick(tick("NSE:INFY", 1495.0, ist_ns(DAY, 15, 20)))
    before = (journal_dir / DAY_FILE).read_bytes()
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 15, 22))) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1496.0, ist_ns(DAY, 15, 22)))
        unchanged = (journal_dir / DAY_FILE).read_bytes() == before
        late = await svc.execute_intent(intent("BUY", 1, "late"))
        waiting = [r.order.intent_id for r in svc.engine.state.working_orders()]
        open_mis = [(p.strategy_code, p.net_qty) for p in svc.positions() if p.net_qty]
    assert partial.status == "PARTIAL" and 0 < partial.filled_qty < 3000
    assert unchanged
    assert (late.status, late.reject_reason) == ("REJECTED", "after_auto_square_off")
    assert waiting == ["amo"]
    assert open_mis == []
    squared = [
        e for e in journal_records(journal_dir / DAY_FILE) if e.get("intent_id", "").startswith("auto-sqoff")
    ]
    assert [(e["strategy_code"], e["qty"]) for e in squared if e["type"] == "fill"] == [
        ("s1", 4), ("s2", partial.filled_qty)
    ]  # fmt: skip


async def test_muhurat_trading_takes_mis_until_ten_minutes_before_its_close(journal_dir: Path):
    """The special session of Sunday 8 Nov 2026 (18:00-19:00 in configs/holidays-2026.yaml): MIS is
    taken in it (not refused for the whole session), and the broker squares off at 18:50, after the
    service's own square-off time (18:45)."""
    muhurat = dt.date(2026, 11, 8)
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(ist_ns(muhurat, 18, 0))) as svc:
        calendar = with_calendar(svc).engine.calendar
        assert isinstance(calendar, MarketCalendar)
        await svc.on_tick(tick("NSE:INFY", 1500.0, ist_ns(muhurat, 18, 0, 1)))
        bought = await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.on_tick(tick("NSE:INFY", 1501.0, ist_ns(muhurat, 18, 49, 59)))
        before = [p.net_qty for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick("NSE:INFY", 1502.0, ist_ns(muhurat, 18, 50)))
        after = [p.net_qty for p in svc.positions() if p.net_qty]
        late = await svc.execute_intent(intent("BUY", 1, "late"))
    assert calendar.square_off_ns("NSE", muhurat) == ist_ns(muhurat, 18, 45)
    assert bought.status == "FILLED"
    assert (before, after) == ([4], [])
    assert late.message == "NSE takes no MIS order after the broker's auto square-off at 18:50 IST"


async def test_dry_run_cancels_its_working_mis_orders_at_the_cut_off(tmp_path: Path, sim):
    """Dry-run's orders are keyed by their tags: the simulated broker's square-off cancels a resting
    MIS LIMIT and a stop of its own, and a modification past the cut-off does not work one again."""
    clock = ReplayClock(ist_ns(DAY, 10, 0))
    async with ExecutionService(dry_run_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        with_calendar(svc)
        seen = Collector(svc)
        await svc.on_tick(live_tick(1500.0))
        await svc.execute_intent(intent("BUY", 3, "rest", order_type="LIMIT", price=1400.0))
        await svc.execute_intent(intent("BUY", 2, "stop", order_type="SL-M", trigger_price=1600.0))
        await seen.until("rest", "PLACED")
        await seen.until("stop", "PLACED")
        await svc.execute_intent(intent("BUY", 1, "late-rest", order_type="LIMIT", price=1400.0))
        await seen.until("late-rest", "PLACED")
        clock.advance_to(ist_ns(DAY, 15, 20, 30))
        late_rest = svc.engine.state.latest_results["late-rest"].order_id
        assert late_rest is not None
        changed = await svc.modify_order(late_rest, price=1500.0)  # INFY has not ticked since 15:20
        await svc.on_tick(live_tick(1490.0))
        ended = [await seen.until(i, "CANCELLED") for i in ("rest", "stop")]
        working = svc.engine.state.working_orders()
        open_mis = [p.net_qty for p in svc.positions() if p.net_qty]
    assert [r.message for r in ended] == ["cancelled by the broker's auto square-off"] * 2
    assert (changed.status, changed.message) == ("CANCELLED", "cancelled by the broker's auto square-off")
    assert (working, open_mis) == ([], [])
    assert sim.orders() == []


async def test_the_first_tick_of_an_exchange_past_its_cut_off_cancels_all_its_working_mis_orders(
    journal_dir: Path,
):
    """The broker cancels working MIS orders at its time, with no price needed: at the first NSE tick
    from 15:20 (TCS), INFY's resting MIS order goes too (one pass over the day's orders per exchange;
    it was one per instrument, 2.3 ms at each instrument's first tick with 200,000 orders in the day);
    INFY's position is closed at INFY's own first tick, at its price; NFO's orders wait for 15:25."""
    future = "NFO:NIFTY26DECFUT"
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick(future, 26_000.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.execute_intent(intent("BUY", 3, "mis-rest", order_type="LIMIT", price=1400.0))
        await svc.execute_intent(
            OrderIntent(symbol=future, strategy_code="s1", side="BUY", qty=75, intent_id="f-rest",
                        order_type="LIMIT", price=25_000.0)
        )  # fmt: skip
        await svc.on_tick(tick("NSE:TCS", 4000.0, ist_ns(DAY, 15, 20, 1)))
        working = [r.order.intent_id for r in svc.engine.state.working_orders()]
        still_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20, 2)))
        after = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    assert working == ["f-rest"]
    assert still_open == [("NSE:INFY", 4)]
    assert after == []
    fills = [e for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "fill"]
    assert (fills[-1]["intent_id"], fills[-1]["price"]) == ("auto-sqoff-20261120-1", 1489.25)
