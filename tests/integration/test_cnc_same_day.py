"""Same-day CNC round trips, hand-worked: Zerodha nets an account's CNC buys of a scrip against its
CNC sells of the same day and charges the matched quantity at intraday rates (FACTS.md 7: brokerage
0.03 % or ₹20 an order, STT 0.025 % on the sell, stamp 0.003 % on the buy), the rest at delivery's
(no brokerage, STT 0.1 % both sides, stamp 0.015 %). The fill that makes the match carries the
change (``execsvc.cnc_day``): its own order at intraday rates, and the credit and debit that move
the earlier leg from delivery to intraday. NSE exchange charge 0.00297 %, SEBI ₹10 a crore, GST
18 % on brokerage + exchange + SEBI throughout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.inspect import fold_file, state_summary
from execsvc.journal.reader import journal_days, journal_path
from execsvc.metrics import ServiceMetrics
from tests.conftest import DAY, SECOND, tick
from tests.integration.test_pnl_hand_worked import charges, config, fill_charges, intent, report

MONDAY = DAY + dt.timedelta(days=3)  # DAY is Friday 2026-11-20
INFY = "NSE:INFY"
Step = tuple[dt.date, str, str, int, float, str]  # (day, strategy, side, qty, price, product)

# FACTS 7's intraday round trip's buy (1,00,000) and the delivery buy of the same
INTRADAY_BUY = charges(brokerage=20.0, exchange=2.97, sebi=0.1, stamp=3.0, gst=4.1526, total=30.2226)
DELIVERY_BUY = charges(stt=100.0, exchange=2.97, sebi=0.1, stamp=15.0, gst=0.5526, total=118.6226)
# the sale of 100 at 1,010 (1,01,000): intraday 52.2588, delivery 104.6588
INTRADAY_SELL = charges(brokerage=20.0, stt=25.0, exchange=2.9997, sebi=0.101, gst=4.1581, total=52.2588)
DELIVERY_SELL = charges(stt=101.0, exchange=2.9997, sebi=0.101, gst=0.5581, total=104.6588)


async def trade(tmp_path: Path, steps: list[Step], restart_after: int | None = None) -> None:
    """Each step a MARKET order at a tick of its price; the service is stopped and started again on
    its journal after step ``restart_after`` (1-based)."""
    tmp_path.mkdir(exist_ok=True)
    cfg = config(tmp_path)
    done = 0
    while done < len(steps):
        clock = ReplayClock(ist_ns(steps[done][0], 9, 15) + done * SECOND)
        async with ExecutionService(cfg, clock=clock) as svc:
            for n, (day, strategy, side, qty, price, product) in enumerate(steps[done:], start=done + 1):
                await svc.on_tick(tick(INFY, price, ist_ns(day, 9, 15) + n * SECOND))
                result = await svc.execute_intent(intent(n, INFY, side, qty, product, strategy))
                assert (result.status, result.avg_price) == ("FILLED", price), result
                done = n
                if n == restart_after:
                    break


def positions(tmp_path: Path, day: dt.date) -> dict[tuple[str, str], dict[str, float]]:
    """``execsvc state``'s positions of ``day`` by (strategy, product)."""
    folded = state_summary(fold_file(journal_path(tmp_path / "journal", day.isoformat())))
    return {(p["strategy"], p["product"]): p for p in folded["positions"]}


async def test_a_partial_match_is_intraday_for_the_quantity_sold_and_delivery_for_the_rest(
    tmp_path: Path,
) -> None:
    """CNC BUY 100 at 1,000, SELL 60 at 1,010 the same day: 60 intraday, 40 delivery."""
    await trade(tmp_path, [(DAY, "s1", "BUY", 100, 1000.0, "CNC"), (DAY, "s1", "SELL", 60, 1010.0, "CNC")])

    buy, sell = fill_charges(tmp_path)
    assert buy == DELIVERY_BUY  # nothing to match yet: delivery, as any CNC buy
    # The SELL (60,600, all intraday): brokerage 0.03 % = 18.18; STT 0.025 % = 15.15 -> 15; NSE
    # 1.79982; SEBI 0.0606; GST 18 % x 20.04042 = 3.6072756.
    # The buy's matched 60,000 leaves delivery: STT round(100) -> round(40) = -60; stamp 0.015 % = -9;
    # NSE -1.782; SEBI -0.06; GST 18 % x -1.842 = -0.33156; and joins intraday: brokerage 0.03 % = 18
    # (under the ₹20 cap); stamp 0.003 % = 1.80; NSE 1.782; SEBI 0.06; GST 18 % x 19.842 = 3.57156.
    # The fill: brokerage 18.18 + 18 = 36.18; STT 15 - 60 = -45; NSE 1.79982 -> 1.7998; SEBI 0.0606;
    # stamp -9 + 1.80 = -7.20; GST 3.6072756 - 0.33156 + 3.57156 = 6.8472756 -> 6.8473; total -7.3123
    assert sell == charges(
        brokerage=36.18, stt=-45.0, exchange=1.7998, sebi=0.0606, stamp=-7.2, gst=6.8473, total=-7.3123
    )
    # The day: 118.6226 - 7.3123 = 111.3103 -> 111.31 (the buy order: 40,000 delivery, 60,000
    # intraday = 72.6626; the sale 38.6477); 60 x 10 = 600 realized; 40 held
    p = positions(tmp_path, DAY)[("s1", "CNC")]
    assert (p["net_qty"], p["realized_gross"], p["charges"], p["realized_net"]) == (40, 600.0, 111.31, 488.69)


async def test_holdings_sold_then_bought_back_the_same_day_are_intraday(tmp_path: Path) -> None:
    """CNC BUY 100 at 1,000 on Friday, held; on Monday SELL 100 at 1,010, then BUY 100 back at 1,000:
    Monday's sale and buy are matched, an intraday round trip (₹82.48), whichever came first."""
    await trade(
        tmp_path,
        [
            (DAY, "s1", "BUY", 100, 1000.0, "CNC"),
            (MONDAY, "s1", "SELL", 100, 1010.0, "CNC"),
            (MONDAY, "s1", "BUY", 100, 1000.0, "CNC"),
        ],
    )

    friday, sale, buy_back = fill_charges(tmp_path)
    assert friday == DELIVERY_BUY  # Friday's buy is the holding: delivery
    assert sale == DELIVERY_SELL  # a sale of holdings, not matched yet
    # The buy back (1,00,000) matches the whole sale: its own intraday 30.2226; the sale moves from
    # delivery to intraday: STT 25 - 101 = -76, brokerage 20, NSE and SEBI unchanged, GST 4.158126 -
    # 0.558126 = 3.60. The fill: brokerage 40; STT -76; NSE 2.97; SEBI 0.10; stamp 3; GST 4.1526 +
    # 3.60 = 7.7526; total -22.1774
    assert buy_back == charges(
        brokerage=40.0, stt=-76.0, exchange=2.97, sebi=0.1, stamp=3.0, gst=7.7526, total=-22.1774
    )
    # Monday: 104.6588 - 22.1774 = 82.4814 -> 82.48, FACTS' intraday figure; 100 held again
    p = positions(tmp_path, MONDAY)[("s1", "CNC")]
    assert (p["net_qty"], p["realized_gross"], p["charges"]) == (100, 1000.0, 82.48)


async def test_two_strategies_trading_one_scrip_are_netted_as_the_account(tmp_path: Path) -> None:
    """s1 buys 100 CNC at 1,000 and s2 sells 100 of that stock at 1,010 the same day: the account
    made an intraday round trip (₹82.48). s2's fill made the match, so s2's position carries the
    change: its intraday sale and the credit that moves s1's buy from delivery to intraday."""
    await trade(tmp_path, [(DAY, "s1", "BUY", 100, 1000.0, "CNC"), (DAY, "s2", "SELL", 100, 1010.0, "CNC")])

    buy, sell = fill_charges(tmp_path)
    assert buy == DELIVERY_BUY
    # 52.2588 (its own, intraday) + 30.2226 (s1's buy at intraday) - 118.6226 (its delivery) = -36.1412
    assert sell == charges(
        brokerage=40.0, stt=-75.0, exchange=2.9997, sebi=0.101, stamp=-12.0, gst=7.7581, total=-36.1412
    )
    by_strategy = positions(tmp_path, DAY)
    assert (by_strategy[("s1", "CNC")]["net_qty"], by_strategy[("s1", "CNC")]["charges"]) == (100, 118.62)
    assert (by_strategy[("s2", "CNC")]["net_qty"], by_strategy[("s2", "CNC")]["charges"]) == (-100, -36.14)
    figures = report(tmp_path)
    assert figures["charges"] == 82.48  # the account's: what the contract note shows
    assert (figures["by_strategy"]["s1"]["charges"], figures["by_strategy"]["s2"]["charges"]) == (
        118.62,
        -36.14,
    )


async def test_a_restart_between_the_legs_charges_the_match_the_same(tmp_path: Path) -> None:
    """The day's CNC fills are folded from the journal: a restart after the buy leaves the sale
    charged as it is without one."""
    steps: list[Step] = [(DAY, "s1", "BUY", 100, 1000.0, "CNC"), (DAY, "s1", "SELL", 60, 1010.0, "CNC")]
    await trade(tmp_path / "straight", steps)
    await trade(tmp_path / "restarted", steps, restart_after=1)

    assert fill_charges(tmp_path / "restarted") == fill_charges(tmp_path / "straight")
    assert fill_charges(tmp_path / "restarted")[1]["total"] == -7.3123
    assert positions(tmp_path / "restarted", DAY) == positions(tmp_path / "straight", DAY)
    assert journal_days(tmp_path / "restarted" / "journal") == [DAY.isoformat()]


async def test_an_mis_trade_in_the_scrip_is_not_netted_with_cnc(tmp_path: Path) -> None:
    """CNC BUY 100 and MIS SELL 100 of one scrip the same day: Zerodha nets within CNC only, so the
    buy stays delivery and the sale is an MIS sale (intraday, as ever)."""
    await trade(tmp_path, [(DAY, "s1", "BUY", 100, 1000.0, "CNC"), (DAY, "s1", "SELL", 100, 1010.0, "MIS")])

    assert fill_charges(tmp_path) == [DELIVERY_BUY, INTRADAY_SELL]


async def test_a_same_day_round_trip_in_two_orders_a_side_matches_first_in_first_out(tmp_path: Path) -> None:
    """BUY 50 at 1,000 and 50 at 1,000 (two orders), SELL 100 at 1,010: the sale matches both buys;
    the day costs what one intraday round trip of two buy orders does: brokerage 0.03 % of 50,000
    = 15 on each buy (under the cap), 20 on the sale; STT 25; stamp 3.00; NSE 5.9697; SEBI 0.201;
    GST 18 % x (15 + 15 + 20 + 5.9697 + 0.201) = 10.110726; total 94.281426."""
    await trade(
        tmp_path,
        [
            (DAY, "s1", "BUY", 50, 1000.0, "CNC"),
            (DAY, "s1", "BUY", 50, 1000.0, "CNC"),
            (DAY, "s1", "SELL", 100, 1010.0, "CNC"),
        ],
    )

    first, second, sale = fill_charges(tmp_path)
    assert first["total"] == second["total"] == 59.3113  # delivery: STT 50, stamp 7.50, NSE 1.485, ...
    p = positions(tmp_path, DAY)[("s1", "CNC")]
    assert (p["net_qty"], p["charges"]) == (0, 94.28)
    assert round(first["total"] + second["total"] + sale["total"], 4) == 94.2814


async def test_the_metrics_count_a_matching_fills_credit_apart_from_the_charges_paid(tmp_path: Path) -> None:
    """The partial match above, scraped: the counters only rise, so the SELL's -7.3123 is a credit,
    and the charges paid less the credits are the day's charges (118.6226 - 7.3123 = 111.3103)."""
    clock = ReplayClock(ist_ns(DAY, 9, 15))
    async with ExecutionService(config(tmp_path), clock=clock) as svc:
        metrics = ServiceMetrics(svc)
        for n, (side, qty, price) in enumerate([("BUY", 100, 1000.0), ("SELL", 60, 1010.0)], start=1):
            await svc.on_tick(tick(INFY, price, ist_ns(DAY, 9, 15) + n * SECOND))
            result = await svc.execute_intent(intent(n, INFY, side, qty, "CNC"))
            # the bus delivers results to the metrics in order: the last one is there once its
            # subscriber has caught up
            await asyncio.wait_for(_metrics_saw(metrics, n), 5)
            assert result.status == "FILLED"
        metrics.close()

    assert metrics.charges.value() == pytest.approx(118.6226)
    assert metrics.charge_credits.value() == pytest.approx(7.3123)
    assert metrics.charges.value() - metrics.charge_credits.value() == pytest.approx(111.3103)
    assert "execsvc_charge_credits_rupees_total 7.3123" in metrics.registry.render()


async def _metrics_saw(metrics: ServiceMetrics, results: int) -> None:
    while metrics.results.value(status="FILLED") < results:
        await asyncio.sleep(0)
