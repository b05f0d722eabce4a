"""The replay report's figures per strategy: P&L, charges, orders and closing orders won and lost,
over several days (a CNC position carried overnight, MIS squared off by the paper broker)."""

from __future__ import annotations

import datetime as dt

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.reader import journal_days, journal_path
from execsvc.market.replay import ReplayStats
from execsvc.report import build_report, summary_table
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick

NEXT_OPEN = ist_ns(DAY + dt.timedelta(days=1), 9, 15)


def order(strategy: str, side: str, qty: int, intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code=strategy, side=side, qty=qty, intent_id=intent_id, **kw
    )  # type: ignore[arg-type]


async def test_the_report_splits_pnl_and_wins_by_strategy(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(order("WIN", "BUY", 10, "w1"))
        await svc.execute_intent(order("LOSE", "BUY", 5, "l1"))
        await svc.execute_intent(order("LOSE", "BUY", 2, "c1", product="CNC"))  # carried overnight
        await svc.execute_intent(order("OPEN", "SELL", 3, "o1"))  # left to the broker's square-off
        await svc.on_tick(tick("NSE:INFY", 1520.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(order("WIN", "SELL", 10, "w2"))
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 3 * SECOND))
        await svc.execute_intent(order("LOSE", "SELL", 5, "l2"))
        await svc.on_tick(tick("NSE:INFY", 1490.0, NEXT_OPEN))  # the date line: OPEN's short closed
        await svc.execute_intent(order("LOSE", "SELL", 2, "c2", product="CNC"))
    files = [journal_path(journal_dir, day) for day in journal_days(journal_dir)]
    report = build_report(ReplayStats(), files, inputs={}, capital=500_000.0)

    fills = [e for path in files for e in journal_records(path) if e["type"] == "fill"]
    expected = {}
    for code in ("WIN", "LOSE", "OPEN"):
        mine = [f for f in fills if f["strategy_code"] == code]  # every strategy ends flat
        gross = sum(f["price"] * f["qty"] * (1 if f["side"] == "SELL" else -1) for f in mine)
        charges = sum(f["charges"]["total"] for f in mine)
        expected[code] = (round(gross, 2), round(charges, 2), round(round(gross, 2) - round(charges, 2), 2))
    figures = report["by_strategy"]
    assert {c: (f["realized_pnl_gross"], f["charges"], f["net_pnl"]) for c, f in figures.items()} == expected
    assert {c: (f["orders"], f["closing_orders"], f["wins"], f["losses"]) for c, f in figures.items()} == {
        "LOSE": (4, 2, 0, 2),  # both exits lost: 1480 < 1500, then the CNC sold next day at 1490
        "OPEN": (
            2,
            1,
            0,
            1,
        ),  # the broker's square-off of the short, 1500 -> 1480 plus its fee... a loss all the same
        "WIN": (2, 1, 1, 0),
    }
    assert round(sum(f["net_pnl"] for f in figures.values()), 2) == report["net_pnl"]
    assert "strategy WIN net P&L" in summary_table(report)
