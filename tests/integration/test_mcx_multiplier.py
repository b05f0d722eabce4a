"""A paper day on MCX: quantity in lots, money at the contract multiplier (100 for CRUDEOIL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick

CRUDE = "MCX:CRUDEOIL26DECFUT"


def mcx_config(journal_dir: Path, multipliers: dict[str, float] | None = None, **breakers: Any) -> Config:
    return make_config(
        journal_dir,
        market={"multipliers": {"MCX:CRUDEOIL": 100} if multipliers is None else multipliers},
        execution={"slippage_bps": 0.0, "circuit_breakers": breakers},
        charges={"enabled": False},  # the figures below are the price moves alone
    )


def crude(intent_id: str, side: str, qty: int = 1, **kw: Any) -> OrderIntent:
    return OrderIntent(
        symbol=CRUDE, strategy_code="s1", side=side, qty=qty, product="NRML", intent_id=intent_id, **kw
    )


async def test_the_daily_loss_breaker_trips_at_the_rupees_lost_not_the_points(journal_dir: Path) -> None:
    """A lot bought at 6,000 and sold at 5,940 loses 60 points x 100 = 6,000 rupees: past a 5,000
    limit. Valued at 1 it would be 60 rupees, and the breaker would let the trader go on."""
    config = mcx_config(journal_dir, max_daily_loss_rupees=5000.0)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        bought = await svc.execute_intent(crude("b1", "BUY"))
        await svc.on_tick(tick(CRUDE, 5960.0, OPEN_NS + 2 * SECOND))
        [open_position] = svc.positions()
        unrealized = open_position.unrealized(5960.0)
        within = await svc.execute_intent(crude("b2", "BUY"))  # down 4,000: still inside the limit
        await svc.on_tick(tick(CRUDE, 5940.0, OPEN_NS + 3 * SECOND))
        sold = await svc.execute_intent(crude("s1", "SELL", 2))
        refused = await svc.execute_intent(crude("b3", "BUY"))

    assert (bought.status, within.status, sold.status) == ("FILLED", "FILLED", "FILLED")
    assert unrealized == pytest.approx(-4000.0)
    [position] = svc.positions()
    assert position.realized_gross == pytest.approx((5940.0 - 6000.0) * 100 + (5940.0 - 5960.0) * 100)
    assert (position.buy_value, position.sell_value) == (
        pytest.approx(1_196_000.0),
        pytest.approx(1_188_000.0),
    )
    assert (refused.status, refused.reject_reason) == ("REJECTED", "breaker:max_daily_loss")
    assert refused.message == "max_daily_loss: realized -8,000.00 < -5,000.00"
    trip = next(e for e in journal_records(journal_dir / f"{DAY}.jsonl") if e["type"] == "breaker_tripped")
    assert (trip["value"], trip["limit"]) == (-8000.0, -5000.0)


async def test_the_order_value_cap_values_a_lot_at_its_multiplier(journal_dir: Path) -> None:
    config = mcx_config(journal_dir, max_order_value_rupees=500_000.0)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        refused = await svc.execute_intent(crude("b1", "BUY"))  # 1 lot = 6,00,000 rupees
    assert (refused.status, refused.reject_reason) == ("REJECTED", "breaker:max_order_value")
    assert refused.message == "max_order_value: 600,000.00 > 500,000.00"


async def test_charges_are_on_the_lots_turnover(journal_dir: Path) -> None:
    """One lot at a multiplier of 100 pays what 100 units at a multiplier of 1 pay: same turnover."""
    results = []
    for name, multiplier, qty in (("lot", 100, 1), ("units", 1, 100)):
        config = make_config(
            journal_dir / name,
            market={"multipliers": {"MCX:CRUDEOIL": multiplier}},
            execution={"slippage_bps": 0.0},
        )
        async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
            await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
            results.append(await svc.execute_intent(crude("b1", "BUY", qty)))
    lot, units = results
    assert lot.charges == units.charges > 20.0  # the brokerage cap alone is 20: more than a 6,000 trade's


async def test_a_contract_of_unknown_multiplier_is_refused_naming_the_setting(journal_dir: Path) -> None:
    async with ExecutionService(mcx_config(journal_dir, {}), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        refused = await svc.execute_intent(crude("b1", "BUY"))
        infy = await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id="n1")
        )
    assert (refused.status, refused.reject_reason) == ("REJECTED", "validation")
    assert "set market.multipliers['MCX:CRUDEOIL']" in (refused.message or "")
    assert infy.reject_reason != "validation"  # NSE needs no configuration (no tick: no_market_data)


async def test_the_journal_carries_the_multiplier_and_a_restart_folds_the_same_pnl(journal_dir: Path) -> None:
    """The multiplier is journaled with the order and each fill: a restart whose config says
    otherwise (a typo fixed, an entry removed) books the day's fills as they were booked, and an
    open position it no longer has a multiplier for can still be closed at its journaled one."""
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(mcx_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        await svc.execute_intent(crude("b1", "BUY", 3))
        await svc.on_tick(tick(CRUDE, 5990.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(crude("s1", "SELL", 1))
        before = svc.positions()
        breakers = svc.engine.state.breakers.realized_net

    events = journal_records(journal_dir / f"{DAY}.jsonl")
    assert [e.get("multiplier") for e in events if e["type"] in ("order_accepted", "fill")] == [100.0] * 4
    for changed in ({"MCX:CRUDEOIL": 10}, {}):
        async with ExecutionService(mcx_config(journal_dir, changed), clock=clock) as svc:
            assert svc.positions() == before
            assert svc.engine.state.breakers.realized_net == breakers == pytest.approx(-1000.0)
    async with ExecutionService(mcx_config(journal_dir, {}), clock=clock) as svc:
        await svc.on_tick(tick(CRUDE, 6010.0, OPEN_NS + 3 * SECOND))
        closed = await svc.execute_intent(crude("s2", "SELL", 2))
        [position] = svc.positions()
    assert closed.status == "FILLED"
    assert position.realized_gross == pytest.approx(-1000.0 + 2 * 10 * 100)


async def test_an_overnight_position_carries_its_multiplier_into_the_next_day(journal_dir: Path) -> None:
    next_open = ist_ns(DAY.replace(day=21), 9, 15)
    async with ExecutionService(mcx_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        await svc.execute_intent(crude("b1", "BUY", 2))
    async with ExecutionService(mcx_config(journal_dir, {}), clock=ReplayClock(next_open)) as svc:
        await svc.on_tick(tick(CRUDE, 6050.0, next_open + SECOND))
        [carried] = svc.positions()
        closed = await svc.execute_intent(crude("s1", "SELL", 2))  # no entry now: the journaled one
        [position] = svc.positions()

    [opening] = [
        e for e in journal_records(journal_dir / "2026-11-21.jsonl") if e["type"] == "positions_carried"
    ]
    assert [p.get("multiplier") for p in opening["positions"]] == [100.0]
    assert (carried.net_qty, carried.multiplier, carried.unrealized(6050.0)) == (2, 100.0, 10_000.0)
    assert closed.status == "FILLED" and position.realized_gross == pytest.approx(10_000.0)
