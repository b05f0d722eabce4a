"""Past the broker's MIS cut-off and before its square-off (no tick of the symbol since the time),
an order that only exits the account's open MIS position goes through, as at Zerodha ("no fresh
MIS orders after the square-off time", FACTS section 6); fresh ones are refused. It used to refuse
the exit too, and the position then paid the broker's ₹50 + GST at the next tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.paper.cutoffs import exits_mis
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick
from tests.integration.test_paper_auto_square_off import DAY_FILE, with_calendar


def mis(strategy: str, side: str, qty: int, intent_id: str) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code=strategy, side=side, qty=qty, intent_id=intent_id)


async def test_an_exit_past_the_cut_off_fills_and_only_the_rest_is_squared_off(journal_dir: Path):
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(mis("s1", "BUY", 4, "s1-in"))
        await svc.execute_intent(mis("s2", "BUY", 2, "s2-in"))
        clock.advance_to(ist_ns(DAY, 15, 20, 30))  # past 15:20; INFY has not ticked since
        exit_ = await svc.execute_intent(mis("s1", "SELL", 4, "s1-out"))
        fresh = await svc.execute_intent(mis("s1", "SELL", 1, "s1-short"))
        too_much = await svc.execute_intent(mis("s2", "SELL", 3, "s2-flip"))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 21)))  # the broker's square-off
        after = await svc.execute_intent(mis("s1", "BUY", 1, "s1-late"))
        open_mis = [(p.strategy_code, p.net_qty) for p in svc.positions() if p.net_qty]
    assert (exit_.status, exit_.filled_qty) == ("FILLED", 4)
    why = "NSE takes no MIS order after the broker's auto square-off at 15:20 IST"
    for refused in (fresh, too_much, after):
        assert (refused.status, refused.reject_reason, refused.message) == (
            "REJECTED",
            "after_auto_square_off",
            why,
        )
    assert open_mis == []
    fills = [e for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "fill"]
    late = [(f["strategy_code"], f["side"], f["qty"], f["charges"].get("auto_square_off")) for f in fills[2:]]
    assert late == [("s1", "SELL", 4, None), ("s2", "SELL", 2, 50.0)]  # the fee on s2's close only


async def test_an_order_that_exits_a_strategy_but_opens_the_account_is_fresh(journal_dir: Path):
    """s1 long 4 and s2 short 4: the account is flat at the broker, so s1's SELL would open a
    fresh short there and is refused, as the broker would."""
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(mis("s1", "BUY", 4, "s1-in"))
        await svc.execute_intent(mis("s2", "SELL", 4, "s2-in"))
        clock.advance_to(ist_ns(DAY, 15, 20, 30))
        refused = await svc.execute_intent(mis("s1", "SELL", 4, "s1-out"))
    assert (refused.status, refused.reject_reason) == ("REJECTED", "after_auto_square_off")


@pytest.mark.parametrize(
    ("side", "qty", "reducing", "account", "exits"),
    [
        ("SELL", 4, True, 6, True),
        ("SELL", 6, True, 6, True),
        ("SELL", 7, True, 6, False),  # past the account's net: the rest would be fresh
        ("BUY", 2, True, 6, False),  # adds to the account's long
        ("BUY", 2, True, -2, True),
        ("SELL", 2, False, 6, False),  # the strategy's own position would open or grow
        ("SELL", 2, True, 0, False),  # the account is flat
    ],
)
def test_exits_mis(side: str, qty: int, reducing: bool, account: int, exits: bool):
    assert exits_mis(side, qty, reducing, account) is exits
