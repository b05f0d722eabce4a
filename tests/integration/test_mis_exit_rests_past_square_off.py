"""An MIS exit taken between the cut-off and its symbol's square-off must not outlive that
square-off. The exchange's working MIS orders are cancelled at its *first* tick from the broker's
time; an exit that rested after that (another symbol ticked first) used to survive its own symbol's
square-off and then fill against a flat position: a fresh MIS position opened after the time,
which the broker never allows."""

from __future__ import annotations

from pathlib import Path

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick
from tests.integration.test_paper_auto_square_off import with_calendar


async def test_a_resting_exit_is_cancelled_by_its_symbols_square_off(journal_dir: Path):
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick("NSE:TCS", 4000.0, OPEN_NS + SECOND))
        await svc.execute_intent(
            OrderIntent(symbol="NSE:TCS", strategy_code="s1", side="BUY", qty=4, intent_id="in")
        )
        # NSE's first tick past 15:20: its working MIS orders are cancelled, INFY is squared off
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20, 10)))
        exit_ = await svc.execute_intent(
            OrderIntent(
                symbol="NSE:TCS",
                strategy_code="s1",
                side="SELL",
                qty=4,
                order_type="LIMIT",
                price=4100.0,
                intent_id="out",
            )
        )
        await svc.on_tick(tick("NSE:TCS", 4000.0, ist_ns(DAY, 15, 20, 20)))  # TCS squared off
        await svc.on_tick(tick("NSE:TCS", 4150.0, ist_ns(DAY, 15, 21)))  # would cross the exit
        latest = svc.engine.state.latest_results["out"]
        open_mis = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    assert exit_.status == "PLACED"
    assert (latest.status, latest.filled_qty) == ("CANCELLED", 0)
    assert open_mis == []
