"""A bad iceberg order is refused at intake in every mode, alike, and never reaches Kite.

Paper used to take an iceberg of 51 legs (or one) that the live mapping refused (REJECTED
``mapping``): paper took what live refuses. Now validation refuses it first, in paper, dry-run
and live the same way (REJECTED ``validation``, naming the field and value), before any HTTP call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.sim import KiteSimulator
from tests.conftest import make_config
from tests.integration.test_live_kite import live_config, placements_per_tag

BAD = [
    ({"iceberg_legs": 51}, "metadata.iceberg_legs=51: iceberg orders need 2..50 legs"),
    ({"iceberg_legs": 1}, "metadata.iceberg_legs=1: iceberg orders need 2..50 legs"),
    ({}, "metadata.iceberg_legs=None: iceberg orders need 2..50 legs"),
    (
        {"iceberg_legs": 2, "iceberg_quantity": 40},
        "metadata.iceberg_quantity=40: must be at most qty (100) and cover it in 2 legs",
    ),
    # extra legs: legs the quantity leaves empty, where Kite cuts qty / legs
    (
        {"iceberg_legs": 2, "iceberg_quantity": 100},
        "metadata.iceberg_quantity=100: 2 legs of 100 leave 1 empty: in 2 legs, qty 100 takes legs "
        "of 50 to 99 (Kite's leg is qty / legs)",
    ),
    (
        {"iceberg_legs": 40},
        "metadata.iceberg_legs=40: qty 100 in 40 legs makes legs of 3, which fill it in 34: 6 legs "
        "would be empty (Kite's leg is qty / legs)",
    ),
]


def iceberg(intent_id: str, metadata: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=100, order_type="LIMIT", price=1_490.0,
        variety="iceberg", metadata=metadata, intent_id=intent_id,
    )  # fmt: skip


async def answers(svc: ExecutionService) -> list[tuple[str, str | None, str | None]]:
    await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1_500.0))
    results = [
        await svc.execute_intent(iceberg(f"berg-{n}", metadata)) for n, (metadata, _) in enumerate(BAD)
    ]
    return [(r.status, r.reject_reason, r.message) for r in results]


EXPECTED = [("REJECTED", "validation", f"invalid intent: {message}") for _, message in BAD]


async def test_paper_refuses_a_bad_iceberg_as_live_does(journal_dir: Path) -> None:
    async with ExecutionService(make_config(journal_dir)) as svc:
        assert await answers(svc) == EXPECTED
        assert svc.engine.state.orders == {}


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
async def test_live_and_dry_run_refuse_a_bad_iceberg_before_any_http_call(
    tmp_path: Path, sim: KiteSimulator, dry_run: bool
) -> None:
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=dry_run)
    )
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        assert await answers(svc) == EXPECTED
        assert svc.engine.state.orders == {}
    assert placements_per_tag(sim) == {}
    assert sim.stats()["placements"] == 0
