"""Options held to expiry on paper are exercised: settled at intrinsic value, and charged for it.

Before, the simulated exchange closed every expired option at its last premium, charge-free. Now,
when the paper broker knows the underlying's last price (a tick of ``NSE:NIFTY 50`` for a NIFTY
option, of ``NSE:INFY`` for an INFY option), an option settles at its intrinsic value (CE:
max(0, S - K), PE: max(0, K - S); out of the money: 0). The long side of an index option in the
money pays STT at the exercise rate (0.15 % of the intrinsic value from 1 Apr 2026, FACTS section
7) on ``price x qty x multiplier``, rounded to the rupee per order, and both sides pay Rs 20 an
order + GST; a stock option in the money is physically settled, charged as a delivery on both
sides (``test_fno_settlement_charges.py``); an OTM option pays nothing. Without the underlying's
price the option still closes at its last premium, and its result says why. A restart (after the
date line, in the middle of it, or between the close and the line) settles at the same prices and
charges as the service that ran on.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file, verify_file
from execsvc.state import ServiceState
from tests.conftest import journal_records, make_config, tick
from tests.pnl_audit import check_days

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
# TUE: the expiry (a trading day on the session calendar; 24 Nov 2026 is a holiday)
MON, TUE, WED = dt.date(2026, 12, 28), dt.date(2026, 12, 29), dt.date(2026, 12, 30)
TUE_FILE, WED_FILE = f"{TUE.isoformat()}.jsonl", f"{WED.isoformat()}.jsonl"
CALL, PUT, OTM_CALL = "NFO:NIFTY26DEC26000CE", "NFO:NIFTY26DEC26600PE", "NFO:NIFTY26DEC26800CE"
INFY_CALL, JAN = "NFO:INFY26DEC1500CE", "NFO:NIFTY27JANFUT"
NIFTY, INFY = "NSE:NIFTY 50", "NSE:INFY"
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13240066,51719,NIFTY27JANFUT,NIFTY,0,2027-01-26,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
10690562,41760,NIFTY26DEC26600PE,NIFTY,0,2026-12-29,26600,0.05,65,PE,NFO-OPT,NFO
10690818,41761,NIFTY26DEC26800CE,NIFTY,0,2026-12-29,26800,0.05,65,CE,NFO-OPT,NFO
10691074,41762,INFY26DEC1500CE,INFY,0,2026-12-29,1500,0.05,400,CE,NFO-OPT,NFO
"""
# the expiry day's last ticks: NIFTY 50 closes at 26,400 and INFY at 1,560
UNDERLYING_CLOSES = [
    tick(NIFTY, 26_400.0, ist_ns(TUE, 15, 29, 30)),
    tick(INFY, 1_560.0, ist_ns(TUE, 15, 29, 31)),
]
EXERCISED_CALL_CHARGES = {"brokerage": 20.0, "stt": 39.0, "gst": 3.6, "total": 62.6}  # s1's call
OPTION_CLOSES = [
    tick(CALL, 402.5, ist_ns(TUE, 15, 29)),
    tick(PUT, 199.0, ist_ns(TUE, 15, 29, 1)),
    tick(OTM_CALL, 0.05, ist_ns(TUE, 15, 29, 2)),
    tick(INFY_CALL, 61.0, ist_ns(TUE, 15, 29, 3)),
]


def exercise_config(tmp_path: Path, journal_dir: Path) -> Config:
    """Paper, no slippage, charges at ``configs/charges.yaml``, with the contracts above."""
    path = tmp_path / "instruments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(INSTRUMENTS)
    return make_config(journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 0})


def order(strategy: str, symbol: str, side: str, qty: int, intent_id: str) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side=side, qty=qty, product="NRML", intent_id=intent_id
    )


async def monday(svc: ExecutionService) -> None:
    """s1 long 65 of the 26000 CE at 150, s2 short 65 of the 26600 PE at 180, s3 long 65 of the
    26800 CE at 40, s4 long 400 of the INFY 1500 CE at 30, s5 long 65 January futures."""
    for symbol, price in ((CALL, 150.0), (PUT, 180.0), (OTM_CALL, 40.0), (INFY_CALL, 30.0), (JAN, 26_100.0)):
        await svc.on_tick(tick(symbol, price, ist_ns(MON, 9, 16)))
    for intent in (
        order("s1", CALL, "BUY", 65, "c1"),
        order("s2", PUT, "SELL", 65, "p1"),
        order("s3", OTM_CALL, "BUY", 65, "o1"),
        order("s4", INFY_CALL, "BUY", 400, "i1"),
        order("s5", JAN, "BUY", 65, "d1"),
    ):
        assert (await svc.execute_intent(intent)).status == "FILLED"


async def through_the_expiry(
    tmp_path: Path, journal_dir: Path, *, underlyings: bool = True
) -> list[tuple[str, str, int]]:
    """Monday to Wednesday in one service; Wednesday's first tick meets the date line."""
    config = exercise_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await monday(svc)
        for last in OPTION_CLOSES + (UNDERLYING_CLOSES if underlyings else []):
            await svc.on_tick(last)
        await svc.on_tick(tick(JAN, 26_300.0, ist_ns(WED, 9, 15)))
        return [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]


def settlement_records(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The settlement's records of a day's journal by symbol, then by type (the last of each)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for event in journal_records(path):
        if event.get("intent_id", "").startswith("expiry-"):
            out.setdefault(event["symbol"], {})[event["type"]] = event
    return out


def books(state: ServiceState) -> dict[tuple[str, str, str], tuple[int, float, float]]:
    """Each position's net quantity, realized gross and charges."""
    return {key: (p.net_qty, p.realized_gross, p.charges) for key, p in state.positions.items()}


async def test_a_long_call_in_the_money_is_exercised_at_intrinsic_value_and_pays_stt(tmp_path, journal_dir):
    positions = await through_the_expiry(tmp_path, journal_dir)

    assert positions == [("s5", JAN, 65), ("s4", INFY, 400)]  # s4's INFY call delivered its shares
    call = settlement_records(journal_dir / TUE_FILE)[CALL]
    fill = call["fill"]
    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 65, 400.0)  # 26,400 - 26,000
    # STT 0.15 % of 400 x 65 = 26,000; Rs 20 for the one order of the exit, and 18 % GST on it
    assert fill["charges"] == EXERCISED_CALL_CHARGES
    assert call["intent"]["metadata"] == {
        "expiry": "2026-12-29",
        "last_price": 402.5,
        "settlement_price": 400.0,
        "underlying": NIFTY,
        "underlying_price": 26_400.0,
    }
    assert call["result"]["message"] == (
        f"expiry settlement: {CALL} expired on 2026-12-29; exercised at its intrinsic value 400 "
        f"({NIFTY} at 26400, strike 26000)"
    )
    position = fold_file(journal_dir / TUE_FILE).position("s1", CALL, "NRML")
    assert position is not None and position.net_qty == 0
    assert position.realized_gross == (400.0 - 150.0) * 65
    assert position.charges == 62.6  # the expiry day's: the settlement's alone (the buy's were Monday's)
    verify_file(journal_dir / TUE_FILE)


async def test_the_independent_model_agrees_with_the_exercised_books(tmp_path, journal_dir):
    """``tests/pnl_model.py`` learns the exercise and settlement rules on its own: every
    settlement's price and charges, every position and the days' P&L are held to it."""
    await through_the_expiry(tmp_path, journal_dir)

    days = check_days(
        [journal_dir / f"{d.isoformat()}.jsonl" for d in (MON, TUE, WED)], tmp_path / "instruments.csv"
    )

    tuesday = days[1]
    assert {o.symbol: tuesday.model_charges[o.order_id]["stt"] for o in tuesday.orders.values()} == {
        CALL: 39,
        PUT: 0,
        OTM_CALL: 0,
        INFY_CALL: 600,  # physically settled: 0.1 % of the strike 1,500 x 400, not the exercise STT
        INFY: 0,  # its 400 shares delivered into s4's holdings: stamp duty, no STT
    }


async def test_a_stock_option_is_exercised_against_its_stock_on_the_same_side_cash_exchange(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir)

    fill = settlement_records(journal_dir / TUE_FILE)[INFY_CALL]["fill"]

    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 400, 60.0)  # 1,560 - 1,500
    # physically settled: 0.1 % STT and 0.25 % brokerage (+ GST) of the strike 1,500 x 400
    assert fill["charges"] == {"brokerage": 1500.0, "stt": 600.0, "gst": 270.0, "total": 2370.0}


async def test_a_short_put_in_the_money_settles_at_intrinsic_value_paying_brokerage_without_stt(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir)

    put = settlement_records(journal_dir / TUE_FILE)[PUT]
    fill = put["fill"]

    assert (fill["side"], fill["qty"], fill["price"]) == ("BUY", 65, 200.0)  # 26,600 - 26,400
    assert fill["charges"] == {"brokerage": 20.0, "gst": 3.6, "total": 23.6}  # the writer pays no STT
    position = fold_file(journal_dir / TUE_FILE).position("s2", PUT, "NRML")
    assert position is not None and position.realized_gross == (180.0 - 200.0) * 65


async def test_an_option_out_of_the_money_settles_at_zero_without_stt(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)

    otm = settlement_records(journal_dir / TUE_FILE)[OTM_CALL]
    fill = otm["fill"]

    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 65, 0.0)
    assert fill.get("charges", {}) == {}
    assert otm["result"]["message"] == (
        f"expiry settlement: {OTM_CALL} expired on 2026-12-29; worthless: out of the money "
        f"({NIFTY} at 26400, strike 26800)"
    )
    position = fold_file(journal_dir / TUE_FILE).position("s3", OTM_CALL, "NRML")
    assert position is not None and (position.net_qty, position.realized_gross) == (0, -40.0 * 65)


async def test_without_the_underlyings_price_an_option_closes_at_its_last_premium_and_says_so(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir, underlyings=False)

    call = settlement_records(journal_dir / TUE_FILE)[CALL]

    assert (call["fill"]["price"], call["fill"].get("charges", {})) == (402.5, {})
    assert call["intent"]["metadata"] == {"expiry": "2026-12-29", "last_price": 402.5}
    assert call["result"]["message"] == (
        f"expiry settlement: {CALL} expired on 2026-12-29; closed at its last price 402.5: the price "
        f"of its underlying {NIFTY} is unknown, so its exercise is not modelled"
    )


async def test_a_restart_after_the_date_line_keeps_the_exercised_books(tmp_path, journal_dir):
    positions = await through_the_expiry(tmp_path, journal_dir)
    ran = books(fold_file(journal_dir / TUE_FILE))
    before = {name: (journal_dir / name).read_bytes() for name in (TUE_FILE, WED_FILE)}

    config = exercise_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 20))) as svc:
        restarted = [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert restarted == positions
    assert books(fold_file(journal_dir / TUE_FILE)) == ran
    assert ran[("s1", CALL, "NRML")][1] == (400.0 - 150.0) * 65
    assert {name: (journal_dir / name).read_bytes() for name in before} == before


@pytest.mark.parametrize("cut_after", ["day_closes", "intent", "order_accepted"])
async def test_a_kill_in_the_middle_of_the_date_line_exercises_at_the_same_prices(
    tmp_path, journal_dir, cut_after
):
    """Cut after the line's ``DayCloses`` or after the call's settlement began: the restart has no
    tick of NIFTY 50, yet settles the call at 400 with its charges, as the service that ran on did."""
    await through_the_expiry(tmp_path, journal_dir)
    path = journal_dir / TUE_FILE
    ran = books(fold_file(path))
    (journal_dir / WED_FILE).unlink()  # the kill came before the new day's file was written
    lines = path.read_bytes().splitlines(keepends=True)
    marker = f'"type":"{cut_after}"'.encode()
    named = b"" if cut_after == "day_closes" else CALL.encode()
    last = max(i for i, line in enumerate(lines) if marker in line and named in line)
    path.write_bytes(b"".join(lines[: last + 1]))

    config = exercise_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 16))) as svc:
        positions = [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert positions == [("s5", JAN, 65), ("s4", INFY, 400)]
    assert books(fold_file(path)) == ran
    fills = [e for e in journal_records(path) if e["type"] == "fill" and e["symbol"] == CALL]
    assert [(f["price"], f.get("charges")) for f in fills] == [(400.0, EXERCISED_CALL_CHARGES)]
    verify_file(path)


async def test_a_restart_between_the_close_and_the_date_line_exercises_at_the_close(tmp_path, journal_dir):
    """With the session calendar, the underlying's last tick past the close is journaled with the
    options' (``SessionCloses``): killed at 20:00 on the expiry day, the restarted service knows
    NIFTY 50's close and journals exactly what the one that ran on does."""
    journals = {}
    for run, restart in (("ran", False), ("restarted", True)):
        directory = tmp_path / run / "journal"
        config = exercise_config(tmp_path / run, directory)
        svc = ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15)))
        await svc.start()
        svc.engine.calendar = CALENDAR
        await monday(svc)
        for last in OPTION_CLOSES + UNDERLYING_CLOSES:
            await svc.on_tick(last)
        await svc.on_tick(tick("NSE:SBIN", 800.0, ist_ns(TUE, 16, 30)))  # past every close
        if restart:
            await svc.stop()
            svc = ExecutionService(config, clock=ReplayClock(ist_ns(TUE, 20, 0)))
            await svc.start()
            svc.engine.calendar = CALENDAR
        await svc.on_tick(tick(JAN, 26_300.0, ist_ns(WED, 9, 15)))
        await svc.stop()
        journals[run] = [journal_records(directory / name) for name in (TUE_FILE, WED_FILE)]

    ran_fills = [e for e in journals["ran"][0] if e["type"] == "fill" and e["symbol"] == CALL]
    assert (ran_fills[-1]["price"], ran_fills[-1]["charges"]) == (400.0, EXERCISED_CALL_CHARGES)

    def settled(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in records if e.get("intent_id", "").startswith("expiry-")]

    assert settled(journals["restarted"][0]) == settled(journals["ran"][0])
    assert journals["restarted"][1] == journals["ran"][1]


async def test_the_date_line_journals_the_underlying_of_an_option_also_held_intraday(tmp_path, journal_dir):
    """The INFY call held both MIS (squared off at the line at today's tick) and NRML (settled):
    the line journals INFY's close for the NRML settlement all the same, so a kill after it does
    not lose the exercise."""
    config = exercise_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await monday(svc)
        for last in OPTION_CLOSES + UNDERLYING_CLOSES:
            await svc.on_tick(last)
        intraday = OrderIntent(
            symbol=INFY_CALL, strategy_code="s6", side="BUY", qty=400, product="MIS", intent_id="m1"
        )
        assert (await svc.execute_intent(intraday)).status == "FILLED"
        await svc.on_tick(tick(JAN, 26_300.0, ist_ns(WED, 9, 15)))

    [line] = [e for e in journal_records(journal_dir / TUE_FILE) if e["type"] == "day_closes"]
    assert (INFY, 1_560.0) in [(c["symbol"], c["last_price"]) for c in line["closes"]]
    assert settlement_records(journal_dir / TUE_FILE)[INFY_CALL]["fill"]["price"] == 60.0
