"""Hand-worked round trips, brokerage-calculator style: each expected figure is written out with its
arithmetic, from the rates of FACTS.md section 7 (2026; NSE exchange charges without IPFT) and, for
MCX, Zerodha's charges page (CTT 0.01 % sell, MCX 0.0021 %, stamp 0.002 % buy). Each trade goes
through the paper service (no slippage, so a MARKET order fills at the last price) and is read back
where a trader reads it: the results' ``charges``, the positions, ``execsvc state``'s summary of
the day and the replay report.

Rounding (ours): STT in whole rupees per order; other components to ₹0.0001 per fill; totals shown
to the paisa. Zerodha's calculator and contract notes show every component to the paisa, so a
figure here may differ from theirs by a paisa or two of rounding, never more.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file, state_summary
from execsvc.journal.reader import journal_days, journal_path
from execsvc.market.replay import ReplayStats
from execsvc.report import build_report
from tests.conftest import DAY, SECOND, journal_records, make_config, tick
from tests.pnl_model import INSTRUMENTS_CSV

MONDAY = DAY + dt.timedelta(days=3)  # DAY is Friday 2026-11-20
INFY, FUT, CALL = "NSE:INFY", "NFO:NIFTY26DECFUT", "NFO:NIFTY26DEC26000CE"
CRUDE, CRUDE_CALL = "MCX:CRUDEOIL26DECFUT", "MCX:CRUDEOIL26DEC6000CE"


def config(tmp_path: Path) -> Config:
    instruments = tmp_path / "instruments.csv"
    instruments.write_text(INSTRUMENTS_CSV)
    return make_config(
        tmp_path / "journal",
        market={"instruments_file": str(instruments), "multipliers": {"MCX:CRUDEOIL": 100}},
        execution={"slippage_bps": 0.0},
    )


def intent(n: int, symbol: str, side: str, qty: int, product: str, strategy: str = "s1") -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side=side, qty=qty, product=product, intent_id=f"i{n}"
    )


async def round_trip(
    tmp_path: Path, symbol: str, product: str, qty: int, buy: float, sell: float, sell_day: dt.date = DAY
) -> tuple[list[Any], list[dict[str, Any]]]:
    """BUY ``qty`` at ``buy`` on DAY, SELL it at ``sell`` on ``sell_day``: the two results, and the
    day summaries (``execsvc state --json``) of the journal files."""
    cfg = config(tmp_path)
    start = ist_ns(DAY, 9, 15)
    async with ExecutionService(cfg, clock=ReplayClock(start)) as svc:
        await svc.on_tick(tick(symbol, buy, start + SECOND))
        bought = await svc.execute_intent(intent(1, symbol, "BUY", qty, product))
        await svc.on_tick(tick(symbol, sell, ist_ns(sell_day, 9, 15) + 2 * SECOND))
        sold = await svc.execute_intent(intent(2, symbol, "SELL", qty, product))
    assert (bought.status, sold.status) == ("FILLED", "FILLED")
    assert (bought.avg_price, sold.avg_price) == (buy, sell)
    journal = Path(cfg.journal.dir)
    days = [state_summary(fold_file(journal_path(journal, d))) for d in journal_days(journal)]
    return [bought, sold], days


PARTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "auto_square_off", "total")


def fill_charges(tmp_path: Path) -> list[dict[str, float]]:
    """Each fill's journaled charges, every part named (0.0 when not journaled), in journal order."""
    journal = tmp_path / "journal"
    return [
        {name: e["charges"].get(name, 0.0) for name in PARTS}
        for d in journal_days(journal)
        for e in journal_records(journal_path(journal, d))
        if e["type"] == "fill"
    ]


def charges(**given: float) -> dict[str, float]:
    """A fill's charges as ``fill_charges`` gives them: the parts not given are 0.0."""
    return {name: given.get(name, 0.0) for name in PARTS}


def report(tmp_path: Path) -> dict[str, Any]:
    journal = tmp_path / "journal"
    files = [journal_path(journal, d) for d in journal_days(journal)]
    return build_report(ReplayStats(), files, inputs={}, capital=500_000.0)


async def test_an_intraday_equity_round_trip(tmp_path: Path) -> None:
    """MIS BUY 100 INFY at 1,000, SELL 100 at 1,010: FACTS.md 7's worked example, ₹82.48."""
    results, [day] = await round_trip(tmp_path, INFY, "MIS", 100, 1000.0, 1010.0)

    buy, sell = fill_charges(tmp_path)
    # BUY, value 1,00,000: brokerage min(0.03 % = 30, 20) = 20; STT none on the buy side;
    # NSE 0.00297 % = 2.97; SEBI 10/crore = 0.10; stamp 0.003 % = 3.00;
    # GST 18 % x (20 + 2.97 + 0.10) = 4.1526; total 30.2226
    assert buy == charges(brokerage=20.0, exchange=2.97, sebi=0.1, stamp=3.0, gst=4.1526, total=30.2226)
    # SELL, value 1,01,000: brokerage 20; STT 0.025 % = 25.25 -> 25 (whole rupees); NSE 2.9997;
    # SEBI 0.101; no stamp; GST 18 % x (20 + 2.9997 + 0.101) = 4.158126 -> 4.1581; total 52.2588
    assert sell == charges(brokerage=20.0, stt=25.0, exchange=2.9997, sebi=0.101, gst=4.1581, total=52.2588)
    assert [r.charges for r in results] == [30.2226, 52.2588]
    # P&L: (1,010 - 1,000) x 100 = 1,000 gross; charges 30.2226 + 52.2588 = 82.4814 -> 82.48;
    # net 1,000 - 82.48 = 917.52
    [position] = day["positions"]
    assert (position["realized_gross"], position["charges"], position["realized_net"]) == (
        1000.0, 82.48, 917.52,
    )  # fmt: skip
    figures = report(tmp_path)["by_strategy"]["s1"]
    assert (figures["realized_pnl_gross"], figures["charges"], figures["net_pnl"]) == (1000.0, 82.48, 917.52)


async def test_a_delivery_buy_then_a_sale_on_the_next_trading_day(tmp_path: Path) -> None:
    """CNC BUY 100 INFY at 1,000 on Friday, carried, SELL 100 at 1,010 on Monday: ₹223.28 in all
    (FACTS.md 7's delivery figure), no brokerage. Zerodha also charges a DP fee on the sale
    (₹13.50 + GST as it was), which is not modelled."""
    results, [friday, monday] = await round_trip(tmp_path, INFY, "CNC", 100, 1000.0, 1010.0, MONDAY)

    buy, sell = fill_charges(tmp_path)
    # BUY, 1,00,000: STT 0.1 % = 100; NSE 2.97; SEBI 0.10; stamp 0.015 % = 15.00;
    # GST 18 % x (0 + 2.97 + 0.10) = 0.5526; total 118.6226
    assert buy == charges(stt=100.0, exchange=2.97, sebi=0.1, stamp=15.0, gst=0.5526, total=118.6226)
    # SELL, 1,01,000: STT 0.1 % = 101; NSE 2.9997; SEBI 0.101; GST 18 % x 3.1007 = 0.558126 -> 0.5581;
    # total 104.6588
    assert sell == charges(stt=101.0, exchange=2.9997, sebi=0.101, gst=0.5581, total=104.6588)
    assert [r.charges for r in results] == [118.6226, 104.6588]
    # Friday: nothing realized, 118.62 of charges; the position is carried at its cost, 1,000
    [held] = friday["positions"]
    assert (held["net_qty"], held["avg_price"], held["realized_net"]) == (100, 1000.0, -118.62)
    # Monday: (1,010 - 1,000) x 100 = 1,000 realized against the carried cost; 104.66 of charges
    carried = next(p for p in monday["positions"] if p["product"] == "CNC")
    assert (carried["net_qty"], carried["realized_gross"], carried["charges"]) == (0, 1000.0, 104.66)
    # Both days: 1,000 - (118.6226 + 104.6588 = 223.2814 -> 223.28) = 776.72
    figures = report(tmp_path)["by_strategy"]["s1"]
    assert (figures["realized_pnl_gross"], figures["charges"], figures["net_pnl"]) == (1000.0, 223.28, 776.72)


async def test_a_futures_round_trip(tmp_path: Path) -> None:
    """NRML BUY 1 lot (65) of the NIFTY future at 26,000, SELL at 26,100: ₹1,002.13."""
    results, [day] = await round_trip(tmp_path, FUT, "NRML", 65, 26_000.0, 26_100.0)

    buy, sell = fill_charges(tmp_path)
    # BUY, 65 x 26,000 = 16,90,000: brokerage min(0.03 % = 507, 20) = 20; NSE 0.00173 % = 29.237;
    # SEBI 1.69; stamp 0.002 % = 33.80; GST 18 % x (20 + 29.237 + 1.69) = 9.16686 -> 9.1669;
    # total 93.8939
    assert buy == charges(brokerage=20.0, exchange=29.237, sebi=1.69, stamp=33.8, gst=9.1669, total=93.8939)
    # SELL, 65 x 26,100 = 16,96,500: brokerage 20; STT 0.05 % (from 1 Apr 2026) = 848.25 -> 848;
    # NSE 0.00173 % = 29.34945 -> 29.3495; SEBI 1.6965; GST 18 % x (20 + 29.34945 + 1.6965) = 9.188271
    # -> 9.1883; total of the rounded parts 908.2343 (exactly 908.234221)
    assert sell == charges(
        brokerage=20.0, stt=848.0, exchange=29.3495, sebi=1.6965, gst=9.1883, total=908.2343
    )
    assert [r.charges for r in results] == [93.8939, 908.2343]
    # P&L: 100 points x 65 = 6,500; charges 93.8939 + 908.2343 = 1,002.1282 -> 1,002.13; net 5,497.87
    [position] = day["positions"]
    assert (position["realized_gross"], position["charges"], position["realized_net"]) == (
        6500.0, 1002.13, 5497.87,
    )  # fmt: skip


async def test_an_options_round_trip_pays_stt_on_the_sale_of_premium(tmp_path: Path) -> None:
    """NRML BUY 1 lot (65) of the NIFTY 26000 call at 150, SELL at 180: ₹74.38."""
    results, [day] = await round_trip(tmp_path, CALL, "NRML", 65, 150.0, 180.0)

    buy, sell = fill_charges(tmp_path)
    # BUY, premium 65 x 150 = 9,750: brokerage flat 20; no STT; NSE 0.03503 % = 3.415425 -> 3.4154;
    # SEBI 10/crore = 0.00975 -> 0.0097 (the double is a hair below the half); stamp 0.003 % = 0.2925;
    # GST 18 % x (20 + 3.415425 + 0.00975) = 4.2165315 -> 4.2165; total 27.9341 (exactly 27.9342065)
    assert buy == charges(
        brokerage=20.0, exchange=3.4154, sebi=0.0097, stamp=0.2925, gst=4.2165, total=27.9341
    )
    # SELL, premium 65 x 180 = 11,700: brokerage 20; STT 0.15 % of premium (from 1 Apr 2026) = 17.55
    # -> 18; NSE 4.09851 -> 4.0985; SEBI 0.0117; no stamp; GST 18 % x 24.11021 = 4.3398378 -> 4.3398;
    # total 46.45 (exactly 46.4500478)
    assert sell == charges(brokerage=20.0, stt=18.0, exchange=4.0985, sebi=0.0117, gst=4.3398, total=46.45)
    assert [r.charges for r in results] == [27.9341, 46.45]
    # P&L: 30 x 65 = 1,950; charges 27.9341 + 46.45 = 74.3841 -> 74.38; net 1,875.62
    [position] = day["positions"]
    assert (position["realized_gross"], position["charges"], position["realized_net"]) == (
        1950.0, 74.38, 1875.62,
    )  # fmt: skip


async def test_an_mcx_futures_round_trip_at_its_multiplier(tmp_path: Path) -> None:
    """NRML BUY 2 lots of crude at 6,000, SELL at 6,050, multiplier 100 (Kite's quantity is in
    lots): every charge is on 2 x price x 100. ₹254.76."""
    results, [day] = await round_trip(tmp_path, CRUDE, "NRML", 2, 6000.0, 6050.0)

    buy, sell = fill_charges(tmp_path)
    # BUY, 2 x 6,000 x 100 = 12,00,000: brokerage min(0.03 % = 360, 20) = 20; MCX 0.0021 % = 25.20;
    # SEBI 1.20; stamp 0.002 % = 24.00; GST 18 % x (20 + 25.20 + 1.20) = 8.352; total 78.752
    assert buy == charges(brokerage=20.0, exchange=25.2, sebi=1.2, stamp=24.0, gst=8.352, total=78.752)
    # SELL, 2 x 6,050 x 100 = 12,10,000: brokerage 20; CTT 0.01 % = 121; MCX 25.41; SEBI 1.21;
    # GST 18 % x (20 + 25.41 + 1.21) = 8.3916; total 176.0116
    assert sell == charges(brokerage=20.0, stt=121.0, exchange=25.41, sebi=1.21, gst=8.3916, total=176.0116)
    assert [r.charges for r in results] == [78.752, 176.0116]
    assert [r.avg_price for r in results] == [6000.0, 6050.0]  # a price, as Kite shows it: no multiplier
    # P&L: 50 points x 2 lots x 100 = 10,000; charges 254.7636 -> 254.76; net 9,745.24
    [position] = day["positions"]
    assert (position["realized_gross"], position["charges"], position["realized_net"]) == (
        10_000.0, 254.76, 9745.24,
    )  # fmt: skip


async def test_an_mcx_options_round_trip_is_charged_as_options(tmp_path: Path) -> None:
    """NRML BUY 1 lot of the crude 6000 call at a premium of 200, SELL at 250, multiplier 100.
    Zerodha's commodity options: flat ₹20 an order, CTT 0.05 % of the premium sold, MCX 0.0418 %
    of premium, stamp 0.003 % bought (its charges page; the futures' 0.03 %, 0.01 % and 0.0021 %
    understated this trip by ₹62.55). ₹83.05."""
    results, [day] = await round_trip(tmp_path, CRUDE_CALL, "NRML", 1, 200.0, 250.0)

    buy, sell = fill_charges(tmp_path)
    # BUY, premium 1 x 200 x 100 = 20,000: brokerage flat 20; no CTT; MCX 0.0418 % = 8.36;
    # SEBI 0.02; stamp 0.003 % = 0.60; GST 18 % x (20 + 8.36 + 0.02) = 5.1084; total 34.0884
    assert buy == charges(brokerage=20.0, exchange=8.36, sebi=0.02, stamp=0.6, gst=5.1084, total=34.0884)
    # SELL, premium 1 x 250 x 100 = 25,000: brokerage 20; CTT 0.05 % = 12.50 -> 13; MCX 10.45;
    # SEBI 0.025; GST 18 % x (20 + 10.45 + 0.025) = 5.4855; total 48.9605
    assert sell == charges(brokerage=20.0, stt=13.0, exchange=10.45, sebi=0.025, gst=5.4855, total=48.9605)
    assert [r.charges for r in results] == [34.0884, 48.9605]
    # P&L: 50 x 1 lot x 100 = 5,000; charges 83.0489 -> 83.05; net 4,916.95
    [position] = day["positions"]
    assert (position["realized_gross"], position["charges"], position["realized_net"]) == (
        5000.0, 83.05, 4916.95,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("product", "side", "price", "stt"),
    [
        ("MIS", "SELL", 1000.0, 3.0),  # 0.025 % x 10 x 1,000 = 2.50 -> 3 (banker's rounding: 2)
        ("CNC", "BUY", 1050.0, 11.0),  # 0.1 % x 10 x 1,050 = 10.50 -> 11 (banker's rounding: 10)
    ],
)
async def test_stt_of_exactly_half_a_rupee_rounds_up(
    tmp_path: Path, product: str, side: str, price: float, stt: float
) -> None:
    """STT is rounded to the nearest rupee per order, a half up (FACTS.md 7: "rounded off to the
    nearest rupee")."""
    start = ist_ns(DAY, 9, 15)
    async with ExecutionService(config(tmp_path), clock=ReplayClock(start)) as svc:
        await svc.on_tick(tick(INFY, price, start + SECOND))
        result = await svc.execute_intent(intent(1, INFY, side, 10, product))
    assert result.status == "FILLED"
    [fill] = fill_charges(tmp_path)
    assert fill["stt"] == stt


async def test_an_mis_position_left_to_the_broker_pays_its_square_off_fee(tmp_path: Path) -> None:
    """MIS BUY 100 INFY at 1,000, left open; the broker squares it off at the last price, 1,010,
    with one MARKET order that carries ₹50 + 18 % GST on top of its usual charges."""
    cfg = config(tmp_path)
    start = ist_ns(DAY, 9, 15)
    async with ExecutionService(cfg, clock=ReplayClock(start)) as svc:
        await svc.on_tick(tick(INFY, 1000.0, start + SECOND))
        await svc.execute_intent(intent(1, INFY, "BUY", 100, "MIS"))
        await svc.on_tick(tick(INFY, 1010.0, start + 2 * SECOND))
        await svc.on_tick(tick(INFY, 1020.0, ist_ns(MONDAY, 9, 15)))  # the date line comes first

    buy, square_off = fill_charges(tmp_path)
    assert buy["total"] == 30.2226  # as in the intraday round trip
    # SELL 100 at 1,010 = 1,01,000: brokerage 20; STT 25; NSE 2.9997; SEBI 0.101; fee 50;
    # GST 18 % x (20 + 2.9997 + 0.101 + 50) = 13.158126 -> 13.1581; total 111.2588
    assert square_off == charges(
        brokerage=20.0,
        stt=25.0,
        exchange=2.9997,
        sebi=0.101,
        gst=13.1581,
        auto_square_off=50.0,
        total=111.2588,
    )
    # Friday's P&L: 1,000 gross; 30.2226 + 111.2588 = 141.4814 -> 141.48; net 858.52 (the fee and its
    # GST, 59.00, is what leaving it to the broker cost over closing it oneself: 82.48)
    [p] = state_summary(fold_file(journal_path(Path(cfg.journal.dir), DAY.isoformat())))["positions"]
    assert (p["net_qty"], p["realized_gross"], p["charges"], p["realized_net"]) == (0, 1000.0, 141.48, 858.52)


async def test_average_price_and_realized_pnl_through_partial_closes_and_a_flip(tmp_path: Path) -> None:
    """Average cost: a close realizes against the open quantity's average; through zero the rest
    opens at the fill's price."""
    cfg = config(tmp_path)
    start = ist_ns(DAY, 9, 15)
    steps = [  # (side, qty, price): net and average after; gross realized by the fill
        ("BUY", 10, 100.0),  # +10 @ 100
        ("BUY", 10, 110.0),  # +20 @ (1,000 + 1,100) / 20 = 105
        ("SELL", 15, 120.0),  # +5 @ 105; realizes 15 x (120 - 105) = 225
        ("SELL", 10, 90.0),  # closes 5: 5 x (90 - 105) = -75; the other 5 open short: -5 @ 90
        ("BUY", 5, 80.0),  # flat; realizes 5 x (90 - 80) = 50
    ]
    seen = []
    async with ExecutionService(cfg, clock=ReplayClock(start)) as svc:
        for n, (side, qty, price) in enumerate(steps, start=1):
            await svc.on_tick(tick(INFY, price, start + n * SECOND))
            await svc.execute_intent(intent(n, INFY, side, qty, "MIS"))
            [p] = svc.positions()
            seen.append((p.net_qty, p.avg_price, p.realized_gross))
    assert seen == [(10, 100.0, 0.0), (20, 105.0, 0.0), (5, 105.0, 225.0), (-5, 90.0, 150.0), (0, 0.0, 200.0)]
    # flat: realized = what was sold less what was bought: (1,800 + 900) - (1,000 + 1,100 + 400) = 200
    [p] = svc.positions()
    assert p.sell_value - p.buy_value == 200.0


async def test_a_cnc_buy_and_sell_the_same_day_is_charged_as_intraday(tmp_path: Path) -> None:
    """CNC BUY 100 INFY at 1,000 and SELL at 1,010 the same day: intraday for charges, ₹82.48
    (the intraday round trip), not the delivery round trip's ₹223.28 (STT 0.1 % both sides and
    0.015 % stamp: ₹140.80 more)."""
    _, [day] = await round_trip(tmp_path, INFY, "CNC", 100, 1000.0, 1010.0)

    [position] = day["positions"]
    assert position["charges"] == 82.48
