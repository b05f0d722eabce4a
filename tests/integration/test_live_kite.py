"""The live path end to end against the Kite simulator: never twice, faults, reconciliation, dry-run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.config import Config, config_from_dict
from execsvc.executors.kite.auth import Secret
from execsvc.executors.kite.mapping import postback_checksum, tag_for
from execsvc.executors.kite.postback import Postback, postback_handler
from execsvc.journal.inspect import verify_file
from execsvc.sim import KiteSimulator

REPO = Path(__file__).resolve().parents[2]


def live_config(journal_dir: Path, sim: KiteSimulator, **kite: Any) -> Config:
    return config_from_dict(
        {
            "mode": "live",
            "journal": {"dir": str(journal_dir), "fsync": "batch"},
            "market": {"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
            "execution": {
                "circuit_breakers": {
                    "max_daily_loss_rupees": None,
                    "max_daily_drawdown_pct": None,
                    "max_trades_per_day": None,
                    "max_trades_per_strategy_per_day": None,
                    "max_loss_streak": None,
                    "max_orders_per_second": None,
                    "max_orders_per_second_per_strategy": None,
                }
            },
            "kite": {
                "api_key": "testkey",
                "root": sim.url,
                "ws_root": sim.ws_url,
                "timeout_seconds": 1.0,
                "unknown_check_delays": [0.02, 0.05, 0.1],
                "unknown_give_up_seconds": 1.0,
                "poll_interval_seconds": 0.05,
                **kite,
            },
        }
    )


def tick(price: float, symbol: str = "NSE:INFY", token: int = 408065) -> Tick:
    return Tick(symbol=symbol, instrument_token=token, last_price=price)


def intent(intent_id: str, side: str = "BUY", qty: int = 5, **kw: Any) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="live1", side=side, qty=qty, intent_id=intent_id, **kw
    )


class Collector:
    """Every result the service publishes, with a way to wait for one."""

    def __init__(self, svc: ExecutionService) -> None:
        self.results: list[ExecutionResult] = []
        self._changed = asyncio.Event()
        svc.on_result(self._on_result, name="test-collector")

    def _on_result(self, result: ExecutionResult) -> None:
        self.results.append(result)
        self._changed.set()

    async def until(self, intent_id: str, status: str, timeout: float = 5.0) -> ExecutionResult:
        """The first result of ``intent_id`` with ``status`` (the timeout is only a hang guard)."""

        async def find() -> ExecutionResult:
            while True:
                for r in self.results:
                    if r.intent_id == intent_id and r.status == status:
                        return r
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)


def placements_per_tag(sim: KiteSimulator) -> dict[str, int]:
    return dict(sim.stats()["placements_per_tag"])


async def test_place_fill_rest_cancel_against_the_simulator(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        placed = await svc.execute_intent(intent("m1"))
        assert placed.status == "PLACED" and placed.mode == "live" and placed.order_id
        filled = await seen.until("m1", "FILLED")
        assert filled.filled_qty == 5 and filled.avg_price is not None

        resting = await svc.execute_intent(intent("l1", order_type="LIMIT", price=1400.0))
        assert resting.status == "PLACED"
        cancelled_waiter = asyncio.ensure_future(svc.cancel_order(resting.order_id or ""))
        cancelled = await asyncio.wait_for(cancelled_waiter, 5)
        assert cancelled.status == "CANCELLED"

        resting2 = await svc.execute_intent(intent("l2", order_type="LIMIT", price=1490.0))
        sim.push_tick(tick(1489.0))
        crossed = await seen.until("l2", "FILLED")
        assert crossed.avg_price is not None and crossed.avg_price <= 1490.0
        assert resting2.order_id == crossed.order_id

    assert placements_per_tag(sim) == {tag_for("m1"): 1, tag_for("l1"): 1, tag_for("l2"): 1}
    assert svc.positions()[0].net_qty == 10
    verify_file(next(tmp_path.glob("*.jsonl")))


async def test_partial_fill_then_the_rest(tmp_path, sim):
    sim.set_faults(partial_fill={"count": 1, "fraction": 0.4})
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent("p1", qty=10, order_type="LIMIT", price=1500.0))
        partial = await seen.until("p1", "PARTIAL")
        assert partial.filled_qty == 4
        sim.push_tick(tick(1499.0))
        done = await seen.until("p1", "FILLED")
        assert done.filled_qty == 10
    fills = next(iter(svc.engine.state.orders.values()))
    assert fills.fills >= 2 and len(fills.fill_ids) == fills.fills  # de-duplicated by trade id


async def test_broker_reject_and_rate_limit_429_are_rejections_never_retries(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        sim.set_faults(reject_next={"count": 1})
        await svc.execute_intent(intent("r1"))
        rejected = await seen.until("r1", "REJECTED")
        assert rejected.message
        sim.set_faults(http_429={"count": 1})
        limited = await svc.execute_intent(intent("r2"))
        assert limited.status == "REJECTED" and "429" in (limited.reject_reason or "") + (
            limited.message or ""
        )
    assert placements_per_tag(sim).get(tag_for("r2"), 0) == 0
    assert sim.stats()["placements"] == 1


@pytest.mark.parametrize(
    ("faults", "placed"),
    [
        ({"http_5xx": [{"pattern": "/orders*", "method": "POST", "status": 500, "placed": True}]}, True),
        ({"drop_after_accept": {"count": 1}}, True),
        ({"http_5xx": [{"pattern": "/orders*", "method": "POST", "status": 503, "placed": False}]}, False),
        # the simulator delays before it reads the request, so our timeout means it never took it
        ({"latency_ms": [{"pattern": "/orders*", "method": "POST", "ms": 1500}]}, False),
    ],
    ids=["5xx-after-placing", "dropped-after-accept", "5xx-not-placed", "timeout-before-taken"],
)
async def test_unknown_outcomes_are_resolved_by_tag_and_never_sent_twice(tmp_path, sim, faults, placed):
    sim.set_faults(faults)
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        seen = Collector(svc)
        first = await svc.execute_intent(intent("u1"))
        assert first.status == "UNKNOWN"
        sim.set_faults(None)
        if placed:
            final = await seen.until("u1", "FILLED", timeout=10)
            assert final.order_id and final.order_id != tag_for("u1")
        else:
            final = await seen.until("u1", "REJECTED", timeout=10)
            assert final.reject_reason == "broker:not_found" and "not resent" in (final.message or "")
    assert placements_per_tag(sim) == ({tag_for("u1"): 1} if placed else {})
    broker = [o for o in sim.orders() if o.get("tag") == tag_for("u1")]
    assert len(broker) == (1 if placed else 0)
    if placed:
        assert broker[0]["status"] == "COMPLETE"


async def test_rate_limits_are_never_exceeded(tmp_path, sim):
    config = live_config(tmp_path, sim, rate_limits={"orders_per_second": 10})
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        results = await asyncio.gather(*(svc.execute_intent(intent(f"rl{n}", qty=1)) for n in range(25)))
    assert all(r.status == "PLACED" for r in results)
    stats = sim.stats()
    assert stats["max_orders_in_1s"] <= 10
    assert stats["rejected_429_total"] == 0
    assert svc.limiter.waits["order"] > 0


async def test_dry_run_runs_the_live_path_but_sends_nothing(tmp_path, sim):
    config = live_config(tmp_path, sim)
    config = config_from_dict(
        {**_as_dict(config), "execution": {**_as_dict(config)["execution"], "dry_run": True}}
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        await svc.on_tick(tick(1500.0))
        result = await svc.execute_intent(intent("d1", order_type="LIMIT", price=1501.0))
    assert result.mode == "dry-run" and result.status == "FILLED"
    request = (result.raw or {})["request"]
    assert request["path"] == "/orders/regular"
    assert request["form"]["tag"] == tag_for("d1") and request["form"]["price"] == "1501"
    assert sim.stats()["placements"] == 0


def _as_dict(config: Config) -> dict[str, Any]:
    import msgspec

    return msgspec.to_builtins(config)


async def test_postback_checksum_accepts_good_and_refuses_bad():
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    received: list[Postback] = []

    async def publish(postback: Postback) -> None:
        received.append(postback)

    app = web.Application()
    app.router.add_post("/kite/postback", postback_handler(publish, Secret("test_api_secret")))
    payload = {"order_id": "220303000308932", "order_timestamp": "2022-03-03 09:24:25", "status": "COMPLETE"}
    good = {
        **payload,
        "checksum": postback_checksum(payload["order_id"], payload["order_timestamp"], "test_api_secret"),
    }
    assert good["checksum"] == "921a4c1420e9e07eaa8152e0964693f0656a0c5ce049f187ac3cc475d622aa36"
    async with TestClient(TestServer(app)) as client:
        ok = await client.post("/kite/postback", json=good)
        bad = await client.post("/kite/postback", json={**payload, "checksum": "0" * 64})
        surrogate = b'{"order_id": "1", "order_timestamp": "x", "checksum": "\\ud800"}'
        bodies = (b"[" * 30000, b'{"a":"\xff"}', b'{"order_id": ' + b"9" * 5000 + b"}", surrogate)
        hostile = [await client.post("/kite/postback", data=body) for body in bodies]
    assert (ok.status, bad.status) == (200, 403)
    # nested past the parser, not UTF-8, an integer past 4300 digits, a lone surrogate: no 500
    assert [r.status for r in hostile] == [400, 400, 400, 400]
    assert received == [Postback(good)]


async def test_startup_reconciliation_adopts_unknown_orders_and_halts_on_position_mismatch(tmp_path, sim):
    from execsvc.executors.kite.client import KiteRestClient

    async with KiteRestClient(api_key="testkey", access_token="token123", root=sim.url) as client:
        await client.place_order(
            "regular",
            {
                "exchange": "NSE",
                "tradingsymbol": "INFY",
                "transaction_type": "BUY",
                "quantity": "3",
                "product": "MIS",
                "order_type": "MARKET",
                "market_protection": "-1",
                "tag": tag_for("ghost"),
            },
        )
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        report = svc.reconciliation
        assert report is not None
        assert any(tag_for("ghost") in a for a in report.orders_adopted)
        assert report.position_mismatches == []  # the adopted fill is now in the journal
        assert svc.positions()[0].net_qty == 3
    # a position the journal cannot explain (a manual trade without our tag) halts trading
    async with KiteRestClient(api_key="testkey", access_token="token123", root=sim.url) as client:
        await client.place_order(
            "regular",
            {
                "exchange": "NSE",
                "tradingsymbol": "INFY",
                "transaction_type": "BUY",
                "quantity": "2",
                "product": "MIS",
                "order_type": "MARKET",
                "market_protection": "-1",
            },
        )
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        assert svc.reconciliation is not None and svc.reconciliation.halted
        assert svc.halted
        refused = await svc.execute_intent(intent("after-mismatch"))
        assert refused.reject_reason == "breaker:halted"


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[3])
    from execsvc import ExecutionService, OrderIntent
    from execsvc.clock import LiveClock
    from execsvc.sim import KiteSimulator
    from tests.integration.test_live_kite import live_config

    class Fake:
        url = sys.argv[2]
        ws_url = sys.argv[2].replace("http", "ws") + "/"

    async def main():
        config = live_config(__import__("pathlib").Path(sys.argv[1]), Fake)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            print("ready", flush=True)
            await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="k", side="BUY", qty=7,
                                                 intent_id="killed1"))
            print("answered", flush=True)

    asyncio.run(main())
    """
)


async def test_kill_9_between_send_and_response_then_restart_reconciles(tmp_path, sim):
    sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 800}])
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        sim.url,
        str(REPO),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"ready"

    # wait until the placement reached the simulator (it is now inside the 800 ms latency), then kill
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["requests"]["orders"] >= 1), 10)
    child.send_signal(signal.SIGKILL)
    await asyncio.wait_for(child.wait(), 10)
    sim.set_faults(None)

    await asyncio.wait_for(
        sim.wait_until(lambda: any(o.get("tag") == tag_for("killed1") for o in sim.orders())), 10
    )
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        report = svc.reconciliation
        assert report is not None and tag_for("killed1") in report.orders_updated
        assert report.position_mismatches == []
        record = svc.engine.state.orders[tag_for("killed1")]
        assert record.filled_qty == 7
        again = await svc.execute_intent(intent("killed1", qty=7))
        assert again.status in ("PLACED", "FILLED", "UNKNOWN")
    assert placements_per_tag(sim) == {tag_for("killed1"): 1}


async def test_modify_a_live_order_then_it_fills_at_the_new_price(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("mod1", order_type="LIMIT", price=1400.0))
        assert resting.status == "PLACED"
        modified = await asyncio.wait_for(svc.modify_order(resting.order_id or "", price=1495.0), 5)
        assert modified.message == "modified"
        sim.push_tick(tick(1494.0))
        filled = await seen.until("mod1", "FILLED")
    assert filled.avg_price is not None and filled.avg_price <= 1495.0
    broker = [o for o in sim.orders() if o.get("tag") == tag_for("mod1")]
    assert len(broker) == 1 and broker[0]["price"] == 1495.0
    assert sim.stats()["modifications"] == 1


async def test_fills_of_a_modification_the_broker_took_before_its_answer_are_booked_under_its_terms(
    tmp_path, sim
):
    """The broker raised the quantity (the answer is on its way, or lost) and the order fills in full."""
    from kiteconnect import KiteConnect

    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("up1", qty=5, order_type="LIMIT", price=1400.0))
        kite = KiteConnect("key", access_token="token123", root=sim.url)
        await asyncio.to_thread(
            kite.modify_order, variety="regular", order_id=resting.order_id, quantity=10, price=1400.0
        )
        sim.push_tick(tick(1390.0))
        filled = await seen.until("up1", "FILLED")
        state = svc.engine.state
        position = state.position("live1", "NSE:INFY", "MIS")
        working = state.working_qty("live1", "NSE:INFY", "MIS", "BUY")
        journal = svc.journal.path
    assert filled.qty == 10 and filled.filled_qty == 10
    assert position is not None and position.net_qty == 10 and working == 0
    assert journal is not None
    kinds = [json.loads(line)["ev"]["type"] for line in journal.read_text().splitlines()]
    assert "order_modified" in kinds and kinds.index("order_modified") < kinds.index("fill")


async def test_a_live_order_modified_to_market_carries_market_protection(tmp_path, sim):
    """Kite refuses a MARKET (or SL-M) order without market protection, on a modification too."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("tomkt1", order_type="LIMIT", price=1400.0))
        assert resting.status == "PLACED"
        modified = await asyncio.wait_for(svc.modify_order(resting.order_id or "", order_type="MARKET"), 5)
        assert modified.message == "modified"
        filled = await seen.until("tomkt1", "FILLED")
    assert filled.filled_qty == 5
    broker = [o for o in sim.orders() if o.get("tag") == tag_for("tomkt1")]
    assert len(broker) == 1 and broker[0]["market_protection"] == -1
