"""Review of the paper broker's auto square-off at the date line: what it books, and where."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.costs import RateTable, fill_charges, segment_for
from tests.conftest import SECOND, journal_records, make_config, tick

RATES = RateTable.load(Path(__file__).resolve().parents[2] / "configs" / "charges.yaml")


async def test_the_square_off_is_charged_at_the_rates_of_the_day_that_left_the_position_open(journal_dir):
    """The broker squares off at 15:25 of the day itself: the day's rates apply, even though the
    simulator only does it at the date line, when the clock already reads the next day (here the
    2026-04-01 version raised the futures sell STT from 0.02 % to 0.05 %)."""
    day, next_day = dt.date(2026, 3, 31), dt.date(2026, 4, 1)
    symbol = "NFO:NIFTY26APRFUT"
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(ist_ns(day, 9, 15))) as svc:
        await svc.on_tick(tick(symbol, 25_000.0, ist_ns(day, 9, 15) + SECOND))
        bought = await svc.execute_intent(
            OrderIntent(symbol=symbol, strategy_code="s1", side="BUY", qty=75, intent_id="m1")
        )
        await svc.on_tick(tick(symbol, 25_000.0, ist_ns(day, 15, 29)))
        await svc.on_tick(tick(symbol, 25_010.0, ist_ns(next_day, 9, 15)))  # the date line
    assert bought.status == "FILLED"

    day_file = journal_dir / f"{day.isoformat()}.jsonl"
    fill = next(e for e in journal_records(day_file) if e["type"] == "fill" and e["intent_id"] != "m1")
    rates = RATES.rates_for(segment_for("NFO", "FUT"), "MIS", day, "NFO")
    expected = fill_charges(rates, side="SELL", price=fill["price"], qty=75, auto_square_off=True)
    assert fill["charges"]["stt"] == expected.stt  # observed: 937.0 (0.05 %), not 375.0 (0.02 %)
    assert fill["charges"]["total"] == expected.total
