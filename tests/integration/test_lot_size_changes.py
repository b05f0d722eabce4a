"""The lot size on modifications, end to end: a change of an F&O order's quantity off its lot grid
is refused as its placement would be (the order keeps working unchanged) on paper, in a dry run and
live before any HTTP call; the Kite simulator refuses such a placement and such a modification with
HTTP 400, as Kite does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from kiteconnect import exceptions as kex

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, tick
from tests.integration.test_fno_expiry import FUT, MON
from tests.official_kite import official_client, place_nifty_future

FUT_TOKEN = 13238786
OFF_GRID = "modify refused: qty=100: must be a multiple of the lot size 65"


def resting(intent_id: str) -> OrderIntent:
    """One lot of the NIFTY future, bid below the market so that it rests."""
    return OrderIntent(
        symbol=FUT, strategy_code="s1", side="BUY", qty=65, product="NRML",
        order_type="LIMIT", price=25_900.0, intent_id=intent_id,
    )  # fmt: skip


async def test_paper_refuses_a_modification_off_the_lot_grid_and_keeps_the_order(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    placed = await fno_paper.execute_intent(resting("rest"))

    refused = await fno_paper.modify_order(placed.order_id, qty=100)
    [still] = fno_paper.engine.state.working_orders()
    qty_after_refusal = still.order.qty
    grown = await fno_paper.modify_order(placed.order_id, qty=130)
    [working] = fno_paper.engine.state.working_orders()
    await fno_paper.stop()

    assert placed.status == "PLACED"
    assert (refused.status, refused.qty, refused.message) == ("PLACED", 65, OFF_GRID)
    assert qty_after_refusal == 65
    assert grown.status == "PLACED" and working.order.qty == 130
    [journal] = (tmp_path / "journal").glob("*.jsonl")
    accepted = [r["qty"] for r in journal_records(journal) if r.get("type") == "order_accepted"]
    assert accepted == [65]  # a refused change makes no new order


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
async def test_a_kite_service_refuses_it_before_any_http_call(
    fno_sim: KiteSimulator, fno_live_config: Callable[..., Config], dry_run: bool
) -> None:
    config = fno_live_config(dry_run=dry_run)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="lottest") as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 10, 0, 1)))
        placed = await svc.execute_intent(resting("rest"))
        before = fno_sim.stats()["requests"]["orders"]
        refused = await svc.modify_order(placed.order_id, qty=100)
        [working] = svc.engine.state.working_orders()
        after = fno_sim.stats()
    orders = fno_sim.orders()

    mode = "dry-run" if dry_run else "live"
    assert (placed.status, placed.mode) == ("PLACED", mode)
    assert (refused.status, refused.qty, refused.message, refused.mode) == ("PLACED", 65, OFF_GRID, mode)
    assert working.order.qty == 65
    assert after["requests"]["orders"] == before and after["modifications"] == 0
    expected_at_broker = [] if dry_run else [(placed.order_id, 65)]
    assert [(o["order_id"], o["quantity"]) for o in orders] == expected_at_broker


async def test_the_official_client_gets_an_input_exception_from_the_simulator(fno_sim: KiteSimulator) -> None:
    kite = official_client(fno_sim)

    with pytest.raises(kex.InputException) as off_grid:
        await asyncio.to_thread(place_nifty_future, kite, 100)
    order_id = await asyncio.to_thread(place_nifty_future, kite, 65)
    with pytest.raises(kex.InputException) as modified:
        await asyncio.to_thread(kite.modify_order, "regular", order_id, quantity=100)
    orders = fno_sim.orders()
    stats = fno_sim.stats()

    assert off_grid.value.code == 400
    assert str(off_grid.value) == (
        "Invalid `quantity`: 100 is not a multiple of the lot size 65 (NFO:NIFTY26NOVFUT)."
    )
    assert modified.value.code == 400 and str(modified.value) == str(off_grid.value)
    assert [(o["order_id"], o["quantity"]) for o in orders] == [(order_id, 65)]  # unchanged by the refusal
    assert (stats["placements"], stats["modifications"]) == (1, 0)
