"""A modification of an iceberg order's total is checked against its legs, as a new iceberg is.

Kite's modification names no legs (FACTS.md 3: ``quantity``, not ``iceberg_legs``): the legs stay
and each becomes the new total over them, rounded up (the simulator's reading). Before, a change of
an iceberg's total skipped the freeze quantity (its total is no one exchange order) and nothing
looked at its legs, so paper and dry-run took a change whose legs the exchange refuses (above the
freeze quantity, not whole lots) or leaves empty, and live sent it. Now the engine refuses it in
every mode before the executor is asked, naming ``qty`` and its value; the order stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.sim import KiteSimulator
from tests.conftest import tick
from tests.integration.test_fno_expiry import FUT, MON

ONE_LEG_TOO_MANY = (
    "each iceberg leg of 1820 exceeds NIFTY's freeze quantity 1800 (NFO); use more legs "
    "(one order may carry at most 1755: 27 lots of 65)"
)
NOT_WHOLE_LOTS = "as an iceberg of 2 legs: legs of 1788, not a multiple of the lot size 65"
BAD_CHANGES = [(3640, ONE_LEG_TOO_MANY), (3575, NOT_WHOLE_LOTS)]


def berg(qty: int, intent_id: str, symbol: str = FUT, **metadata: Any) -> OrderIntent:
    """A resting iceberg BUY below the market."""
    price = 25_900.0 if symbol == FUT else 1_490.0
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, order_type="LIMIT", price=price,
        product="NRML" if symbol == FUT else "CNC", variety="iceberg", metadata=metadata, intent_id=intent_id,
    )  # fmt: skip


async def changes(svc: ExecutionService, order_id: str, qtys: list[int]) -> list[tuple[int, str | None]]:
    """Each change's answer: the order's quantity after it, and the message."""
    answers = [await svc.modify_order(order_id, qty=qty) for qty in qtys]
    return [(r.qty, r.message) for r in answers]


async def test_paper_refuses_a_change_of_total_whose_legs_the_exchange_would_refuse(
    fno_paper: ExecutionService,
) -> None:
    placed = await fno_paper.execute_intent(berg(3510, "berg", iceberg_legs=2))  # legs of 27 lots
    assert (placed.status, placed.qty) == ("PLACED", 3510)

    refused = await changes(fno_paper, placed.order_id, [qty for qty, _ in BAD_CHANGES])
    taken = await fno_paper.modify_order(placed.order_id, qty=3380)  # legs of 26 lots

    assert refused == [(3510, f"modify refused: qty={qty}: {why}") for qty, why in BAD_CHANGES]
    assert (taken.status, taken.qty) == ("PLACED", 3380)
    assert fno_paper.engine.state.orders[placed.order_id].order.qty == 3380


async def test_paper_refuses_a_change_of_total_that_leaves_legs_empty(fno_paper: ExecutionService) -> None:
    await fno_paper.on_tick(tick("NSE:INFY", 1_500.0, ist_ns(MON, 9, 17)))
    placed = await fno_paper.execute_intent(berg(100, "small", "NSE:INFY", iceberg_legs=50))  # legs of 2
    assert placed.status == "PLACED"

    [(qty, message)] = await changes(fno_paper, placed.order_id, [60])

    assert qty == 100
    assert message == (
        "modify refused: qty=60: as an iceberg of 50 legs: legs of 2, which fill it in 30: "
        "20 legs would be empty (Kite's leg is qty / legs)"
    )


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
async def test_live_and_dry_run_refuse_it_before_anything_is_sent(
    fno_sim: KiteSimulator, fno_live_config: Callable[..., Config], dry_run: bool
) -> None:
    config = fno_live_config(dry_run=dry_run)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="t") as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 10, 0)))
        placed = await svc.execute_intent(berg(3510, "berg", iceberg_legs=2))
        refused = await changes(svc, placed.order_id, [qty for qty, _ in BAD_CHANGES])
    stats = fno_sim.stats()

    assert placed.status == "PLACED"
    assert refused == [(3510, f"modify refused: qty={qty}: {why}") for qty, why in BAD_CHANGES]
    assert stats["modifications"] == 0
    assert stats["placements"] == (0 if dry_run else 1)


async def test_a_new_price_sent_with_the_unchanged_total_is_no_change_of_total(
    fno_paper: ExecutionService,
) -> None:
    # 10 lots in 3 named legs of 4 lots: valid as placed, though 650 / 3 rounds up to 217 (not
    # whole lots). A change that names the total it already has (a form sent back with every
    # term) changes no leg: it is not the change of total the legs are checked for.
    placed = await fno_paper.execute_intent(berg(650, "named", iceberg_legs=3, iceberg_quantity=260))
    assert placed.status == "PLACED"

    repriced = await fno_paper.modify_order(placed.order_id, qty=650, price=25_850.0)

    assert (repriced.status, repriced.qty) == ("PLACED", 650)
    assert repriced.message == "resting until the market crosses the limit"
    assert fno_paper.engine.state.orders[placed.order_id].order.price == 25_850.0
