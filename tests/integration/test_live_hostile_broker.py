"""The live path against a broker that answers badly: the real service on a loopback fake Kite.

Each test stages one hostile answer (trades beyond the order, a NaN price, a token echoed in an
error, an order book that is down, a contradictory envelope) and checks what we booked, reported,
journaled and logged. Waiting is on results and on the fake's request counts, never on time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config

API_SECRET = "APIsekret5ecret77"


def journal_bytes(journal_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(journal_dir.glob("*.jsonl")))


def resting(intent_id: str) -> Any:
    """A LIMIT order below the market: it stays OPEN and keeps the order poller running."""
    return buy(intent_id, order_type="LIMIT", price=1400.0)


def net_qty(svc: ExecutionService) -> int:
    return sum(p.net_qty for p in svc.positions())


# -- 1. trades beyond the order's quantity; duplicate trade ids ---------------------------------


async def test_trades_beyond_the_order_quantity_are_not_booked(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(resting("o1"))
        await svc.execute_intent(resting("keep-polling"))
        oid = placed.order_id
        assert oid is not None
        kite.trades += [
            {"trade_id": "T1", "order_id": oid, "quantity": 5, "average_price": 1400},
            {"trade_id": "T2", "order_id": oid, "quantity": 5, "average_price": 1400},
        ]
        kite.orders[oid].update(filled_quantity=5, pending_quantity=0, status="COMPLETE")
        await seen.until("o1", lambda r: r.filled_qty >= 5)
        await kite.seen("GET", "/orders", more=3)  # later polls had their chance to book more
        assert svc.engine.state.latest_results["o1"].filled_qty == 5
        assert net_qty(svc) == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "T2" in r.getMessage()]
    assert errors, "the trade that was not booked is not reported"
    assert oid in errors[0].getMessage() and "quantity=5" in errors[0].getMessage()
    assert len(errors) == 1, "reported once, not on every poll"


async def test_a_duplicate_trade_id_with_another_quantity_is_booked_once_and_reported(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(resting("d1"))
        await svc.execute_intent(resting("keep-polling"))
        oid = placed.order_id
        assert oid is not None
        kite.trades += [
            {"trade_id": "T1", "order_id": oid, "quantity": 2, "average_price": 1400},
            {"trade_id": "T1", "order_id": oid, "quantity": 5, "average_price": 1400},
        ]
        kite.orders[oid].update(filled_quantity=5, pending_quantity=0, status="COMPLETE")
        await seen.until("d1", lambda r: r.filled_qty == 2)
        await kite.seen("GET", "/orders", more=3)
        assert svc.engine.state.latest_results["d1"].filled_qty == 2
        assert net_qty(svc) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    dup = [m for m in warnings if "T1" in m and "quantity=2" in m and "quantity=5" in m]
    assert dup, f"no warning names T1 and both quantities: {warnings}"
