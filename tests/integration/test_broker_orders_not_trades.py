"""The simulated broker's own orders (its MIS auto square-off, the exchange's expiry settlement) are
not the trader's trades: live, the broker's never reach the journal, so paper must not count them
against ``max_trades_per_day`` / ``max_trades_per_strategy_per_day`` or the order throttles either.
Their intent ids are the broker's alone: an intent from outside may not take one."""

from __future__ import annotations

from pathlib import Path

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick
from tests.integration.test_paper_auto_square_off import with_calendar


def buy(intent_id: str, product: str = "MIS") -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=2, product=product, intent_id=intent_id
    )


async def test_the_brokers_square_off_takes_none_of_the_strategys_trades(journal_dir: Path):
    limits = {"max_trades_per_day": 2, "max_trades_per_strategy_per_day": 2}
    config = make_config(journal_dir, execution={"circuit_breakers": limits})
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(config, clock=clock) as svc:
        with_calendar(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        first = await svc.execute_intent(buy("mis-1"))
        clock.advance_to(ist_ns(DAY, 15, 20))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 20)))  # the broker closes it
        squared = [p.net_qty for p in svc.positions() if p.product == "MIS"]
        second = await svc.execute_intent(buy("cnc-1", product="CNC"))
        third = await svc.execute_intent(buy("cnc-2", product="CNC"))
    assert (first.status, squared, second.status) == ("FILLED", [0], "FILLED")
    assert (third.status, third.reject_reason) == ("REJECTED", "breaker:max_trades_per_day")


async def test_an_intent_may_not_take_the_brokers_ids(journal_dir: Path):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        square_off = await svc.execute_intent(buy("auto-sqoff-mine"))
        expiry = await svc.execute_intent(buy("expiry-2026-11-20-1"))
        positions = [p.net_qty for p in svc.positions()]
    assert (square_off.status, square_off.reject_reason) == ("REJECTED", "validation")
    assert square_off.message == (
        "invalid intent: intent_id='auto-sqoff-mine': "
        "ids beginning 'auto-sqoff-' are the simulated broker's own"
    )
    assert (expiry.status, expiry.reject_reason) == ("REJECTED", "validation")
    assert "'expiry-'" in (expiry.message or "")
    assert positions == []
