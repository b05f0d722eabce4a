"""Live against the Kite simulator on MCX: the journal's P&L and values match the broker's
positions, which carry the contract multiplier; a restart whose config disagrees with the broker
halts at reconciliation instead of trading on a wrong valuation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.config import Config, config_from_dict
from execsvc.sim import KiteSimulator
from tests.conftest import BREAKERS_OFF
from tests.integration.test_live_kite import Collector

LEAD, TOKEN = "MCX:LEADMINI26DECFUT", 53496327


@pytest.fixture
async def mcx_sim() -> AsyncIterator[KiteSimulator]:
    """The simulator as an exchange that knows LEADMINI's multiplier, 1000 (FACTS.md 2.2)."""
    async with KiteSimulator(heartbeat_seconds=0.05, multipliers={"MCX:LEADMINI": 1000.0}) as simulator:
        simulator.push_tick(Tick(symbol=LEAD, instrument_token=TOKEN, last_price=161.05))
        yield simulator


def config(journal_dir: Path, sim: KiteSimulator, multiplier: float) -> Config:
    return config_from_dict(
        {
            "mode": "live",
            "journal": {"dir": str(journal_dir), "fsync": "batch"},
            "market": {"instruments_file": None, "multipliers": {"MCX:LEADMINI": multiplier}},
            "execution": {"circuit_breakers": dict(BREAKERS_OFF)},
            "kite": {
                "api_key": "testkey",
                "root": sim.url,
                "ws_root": sim.ws_url,
                "timeout_seconds": 1.0,
                "poll_interval_seconds": 0.05,
            },
        }
    )


def lead(intent_id: str, side: str, qty: int = 1, **kw: Any) -> OrderIntent:
    return OrderIntent(
        symbol=LEAD, strategy_code="live1", side=side, qty=qty, product="NRML", intent_id=intent_id, **kw
    )


def broker_row(sim: KiteSimulator) -> dict[str, Any]:
    [row] = [r for r in sim.core.book.positions_dict()["net"] if r["tradingsymbol"] == "LEADMINI26DECFUT"]
    return row


async def test_live_pnl_and_values_match_the_brokers_positions(
    tmp_path: Path, mcx_sim: KiteSimulator
) -> None:
    async with ExecutionService(
        config(tmp_path, mcx_sim, 1000.0), clock=LiveClock(), access_token="sim"
    ) as svc:
        seen = Collector(svc)
        await svc.execute_intent(lead("b1", "BUY", 2))
        await seen.until("b1", "FILLED")
        mcx_sim.push_tick(Tick(symbol=LEAD, instrument_token=TOKEN, last_price=160.05))
        await svc.execute_intent(lead("s1", "SELL", 1))
        await seen.until("s1", "FILLED")
        [position] = svc.positions()
        assert svc.reconciliation is not None and not svc.reconciliation.halted

    row = broker_row(mcx_sim)
    assert row["multiplier"] == 1000
    assert (position.net_qty, position.multiplier) == (row["quantity"], 1000.0)
    assert position.buy_value == pytest.approx(row["buy_value"])
    assert position.sell_value == pytest.approx(row["sell_value"])
    assert position.realized_gross == pytest.approx(row["realised"])
    assert position.unrealized(160.05) == pytest.approx(row["unrealised"])
    # the day's money as the broker counts it: what was sold less what was bought, plus what is held
    assert position.realized_gross + position.unrealized(160.05) == pytest.approx(row["pnl"])


async def test_a_restart_whose_multiplier_differs_from_the_brokers_halts(
    tmp_path: Path, mcx_sim: KiteSimulator
) -> None:
    async with ExecutionService(
        config(tmp_path, mcx_sim, 1000.0), clock=LiveClock(), access_token="sim"
    ) as svc:
        seen = Collector(svc)
        await svc.execute_intent(lead("b1", "BUY"))
        await seen.until("b1", "FILLED")
        booked = svc.positions()

    async with ExecutionService(
        config(tmp_path, mcx_sim, 100.0), clock=LiveClock(), access_token="sim"
    ) as svc:
        report = svc.reconciliation
        assert svc.positions() == booked  # the journal's valuation stands
        refused = await svc.execute_intent(lead("b2", "BUY"))

    assert report is not None and report.halted
    assert report.position_mismatches == []
    assert report.multiplier_mismatches == [f"{LEAD}: market.multipliers gives 100, the broker 1000"]
    assert (refused.status, refused.reject_reason) == ("REJECTED", "breaker:halted")
    assert "contract multiplier differs from the broker's" in (refused.message or "")


async def test_after_the_config_is_fixed_a_restart_trades_and_reports_the_old_bookings(
    tmp_path: Path, mcx_sim: KiteSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    # the day began with a wrong config (100; the broker's is 1000): a fill booked at 100
    async with ExecutionService(
        config(tmp_path, mcx_sim, 100.0), clock=LiveClock(), access_token="sim"
    ) as svc:
        seen = Collector(svc)
        await svc.execute_intent(lead("b1", "BUY", 2))
        await seen.until("b1", "FILLED")

    # the trader fixed market.multipliers: every restart that day used to halt again
    for restart in range(2):
        async with ExecutionService(
            config(tmp_path, mcx_sim, 1000.0), clock=LiveClock(), access_token="sim"
        ) as svc:
            report = svc.reconciliation
            assert report is not None and not report.halted, restart
            assert report.multiplier_mismatches == []
            [line] = report.multipliers_booked
            assert line.startswith(f"{LEAD}: the journal booked fills at multiplier 100 before")
            assert "the broker's P&L is right" in line
            if restart == 0:
                seen = Collector(svc)
                await svc.execute_intent(lead("s1", "SELL", 2))
                await seen.until("s1", "FILLED")
                [closed] = svc.positions()

    assert "the journal booked fills at multiplier 100" in caplog.text
    # the close was booked at the broker's multiplier, so it realized as the broker did
    row = broker_row(mcx_sim)
    assert (closed.net_qty, closed.multiplier, row["quantity"]) == (0, 1000.0, 0)
    assert closed.realized_gross == pytest.approx(row["realised"])
    # the opening fill's value stays as booked (at 100): the report says so
    assert closed.buy_value == pytest.approx(row["buy_value"] / 10)
