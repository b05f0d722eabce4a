"""After-market orders on the paper exchange and the session calendar's closed days: a tick on a
weekend or an exchange holiday (a stray or test feed, a library caller) is no open, so an AMO
waiting for the next session must not go out with it. Before, an MIS AMO placed past the broker's
cut-off was released by the first tick of a non-trading day (no cut-off that day), so a fresh MIS
position opened on a Saturday, and a CNC one filled at a price of a day the exchange never traded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import SECOND, journal_records, make_config, tick
from tests.integration.test_paper_auto_square_off import with_calendar

FRIDAY = dt.date(2026, 11, 20)
SATURDAY, MONDAY = dt.date(2026, 11, 21), dt.date(2026, 11, 23)
GURPURB, WEDNESDAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)  # an NSE holiday, then the next session


def amo(intent_id: str, product: str) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=4, variety="amo", product=product,
        intent_id=intent_id,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("placed", "closed", "reopens"),
    [(FRIDAY, SATURDAY, MONDAY), (MONDAY, GURPURB, WEDNESDAY)],
    ids=["weekend", "holiday"],
)
@pytest.mark.parametrize(("product", "at"), [("MIS", (15, 21)), ("CNC", (16, 0))])
async def test_an_amo_waits_through_a_closed_day_for_the_next_session(
    journal_dir: Path, placed: dt.date, closed: dt.date, reopens: dt.date, product: str, at: tuple[int, int]
):
    """An MIS AMO placed past the broker's cut-off (15:21), or a CNC one after the close (16:00),
    goes out at the first tick of the exchange's next session, not a closed day's tick."""
    start = ist_ns(placed, 9, 15)
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(start)) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, start + SECOND))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(placed, *at)))
        queued = await svc.execute_intent(amo("late-amo", product))
        await svc.on_tick(tick("NSE:INFY", 1400.0, ist_ns(closed, 10, 0)))  # the exchange is closed
        on_the_closed_day = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        still_waiting = [r.order.intent_id for r in svc.engine.state.working_orders() if r.waits_for_open]
        await svc.on_tick(tick("NSE:INFY", 1510.0, ist_ns(reopens, 9, 15)))
        at_the_open = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert queued.status == "PLACED"
    assert on_the_closed_day == [], f"an {product} AMO went out on a day the exchange was closed"
    assert still_waiting == ["late-amo"]
    assert at_the_open == [(product, 4)]
    closed_file = journal_dir / f"{closed.isoformat()}.jsonl"
    released = [e for e in journal_records(closed_file) if e["type"] in ("order_released", "fill")]
    assert released == []
    fills = [e for e in journal_records(journal_dir / f"{reopens.isoformat()}.jsonl") if e["type"] == "fill"]
    assert [(e["intent_id"], e["ts_event"]) for e in fills] == [("late-amo", ist_ns(reopens, 9, 15))]
