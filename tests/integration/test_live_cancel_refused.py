"""A cancel is not lost: one the broker refuses while the order is being processed is sent again
once the order settles (a few times at most), and one journaled as sent whose DELETE a crash kept
from leaving is sent again by the next start's reconciliation.

The simulator refuses cancels on demand (the ``refuse_cancel`` fault: Kite's "Order cannot be
cancelled as it is being processed"); a proxy holds placements or DELETEs where a test needs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.cancel_retry import CANCEL_SENDS
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records
from tests.integration.test_live_cancel_in_flight import hold_placement
from tests.integration.test_live_cancel_unknown import broker_order, final_results
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Forward, Proxy

REPO = Path(__file__).resolve().parents[2]


def deletes(sim: KiteSimulator) -> int:
    """Every DELETE the simulator handled, carried out or refused."""
    return int(sim.stats()["cancel_requests"])


def cancel_records(tmp_path: Path, sim: KiteSimulator, intent_id: str) -> list[dict[str, Any]]:
    """The journal's cancel records of an intent's order (named by our id, the broker's or the intent)."""
    names = {tag_for(intent_id), broker_order(sim, intent_id)["order_id"]}
    records = [r for path in sorted(tmp_path.glob("*.jsonl")) for r in journal_records(path)]
    return [
        r
        for r in records
        if r.get("type") == "cancel_intent"
        and (r.get("order_id") in names or r.get("intent_id") == intent_id)
    ]


def story(records: list[dict[str, Any]]) -> list[tuple[bool, int, bool]]:
    """Each cancel record as (held, sends before it, refused)."""
    return [(bool(r.get("deferred")), r.get("attempt", 0), bool(r.get("refused"))) for r in records]


def hold_deletes(proxy: Proxy) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every DELETE: the broker never sees it (a crash comes first).

    Returns:
        (arrived: set once one is held, gone: set it to end the held requests, unanswered).
    """
    arrived, gone = asyncio.Event(), asyncio.Event()

    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse:
        arrived.set()
        await gone.wait()
        return web.Response(status=503)

    proxy.hook("DELETE", "/orders/", hook)
    return arrived, gone


def start(tmp_path: Path, sim: Any) -> ExecutionService:
    return start(tmp_path, sim)


async def test_a_held_cancel_refused_while_the_order_is_processed_is_sent_again(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            held, release = hold_placement(proxy, forwarded=False)
            await svc.submit(intent("rf1", order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 5)
            answer = await asyncio.wait_for(svc.cancel_order(intent_id="rf1"), 5)
            assert "cancel pending" in (answer.message or ""), answer

            sim.set_faults(refuse_cancel={"count": 1})
            release.set()
            cancelled = await seen.until("rf1", "CANCELLED")
            messages = [r.message or "" for r in seen.results if r.intent_id == "rf1"]
    assert cancelled.order_id == broker_order(sim, "rf1")["order_id"]
    assert broker_order(sim, "rf1")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("rf1"): 1}
    assert deletes(sim) == 2 and sim.stats()["cancels_refused"] == 1
    assert any("refused it while the order is being processed" in m for m in messages), messages
    # held; sent; refused and held again; sent again
    assert story(cancel_records(tmp_path, sim, "rf1")) == [
        (True, 0, False),
        (False, 0, False),
        (True, 1, True),
        (False, 1, False),
    ]
    assert final_results(tmp_path, "rf1")[-1] == "CANCELLED"


async def test_an_ordinary_cancel_refused_while_the_order_is_processed_says_so_and_is_sent_again(
    tmp_path, sim
):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("rf2", order_type="LIMIT", price=1400.0))
        assert resting.status == "PLACED"
        sim.set_faults(refuse_cancel={"count": 1})
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        assert answer.status == "PLACED", answer
        assert "cancel pending" in (answer.message or "") and "sent again" in (answer.message or ""), answer
        await seen.until("rf2", "CANCELLED")
    assert broker_order(sim, "rf2")["status"] == "CANCELLED"
    assert deletes(sim) == 2
    assert story(cancel_records(tmp_path, sim, "rf2")) == [
        (False, 0, False),
        (True, 1, True),
        (False, 1, False),
    ]


async def test_a_cancel_refused_on_every_send_is_given_up_after_a_few(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("rf3", order_type="LIMIT", price=1400.0))
        sim.set_faults(refuse_cancel={"count": 100})
        await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)

        def given_up() -> bool:
            return any("refused on each of its" in (r.message or "") for r in seen.results)

        await asyncio.wait_for(sim.wait_until(given_up), 5)
        reads = sim.stats()["requests"]["other"]
        # the poller goes on reading the order (still OPEN): nothing more is sent
        await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["requests"]["other"] >= reads + 5), 5)
        working = svc.engine.state.orders[tag_for("rf3")].working
    assert working and broker_order(sim, "rf3")["status"] == "OPEN"
    assert deletes(sim) == CANCEL_SENDS == sim.stats()["cancels_refused"]
    assert story(cancel_records(tmp_path, sim, "rf3"))[-1] == (False, CANCEL_SENDS - 1, True)


async def test_a_refusal_that_is_not_about_processing_is_reported_and_not_sent_again(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        resting = await svc.execute_intent(intent("rf4", order_type="LIMIT", price=1400.0))
        sim.set_faults(refuse_cancel={"count": 1, "message": "Order cannot be cancelled: not allowed."})
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
    assert "cancel refused" in (answer.message or "") and "not allowed" in (answer.message or ""), answer
    assert deletes(sim) == 1 and broker_order(sim, "rf4")["status"] == "OPEN"
    # a restart does not send it either: its refusal is journaled
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc2:
        report = svc2.reconciliation
    assert report is not None and report.cancels_resent == []
    assert deletes(sim) == 1


async def test_a_crash_between_a_journaled_cancel_and_its_delete_is_settled_by_the_restart(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        resting = await svc.execute_intent(intent("rf5", order_type="LIMIT", price=1400.0))
        arrived, gone = hold_deletes(proxy)
        waiting = asyncio.ensure_future(svc.cancel_order(resting.order_id or ""))
        await asyncio.wait_for(arrived.wait(), 5)  # journaled, and its DELETE never reaches the broker
        await svc.kill()
        gone.set()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        proxy.hooks.clear()
        assert deletes(sim) == 0 and broker_order(sim, "rf5")["status"] == "OPEN"

        svc2 = ExecutionService(config, clock=LiveClock(), access_token="token123")
        seen = Collector(svc2)
        async with svc2:
            await seen.until("rf5", "CANCELLED")
            report = svc2.reconciliation
        async with ExecutionService(config, clock=LiveClock(), access_token="token123"):
            pass  # a third start: the order is cancelled, nothing is sent again
    assert report is not None and report.cancels_resent == [tag_for("rf5")]
    assert broker_order(sim, "rf5")["status"] == "CANCELLED"
    assert deletes(sim) == 1
    assert story(cancel_records(tmp_path, sim, "rf5")) == [
        (False, 0, False),
        (True, 1, False),
        (False, 1, False),
    ]
    assert final_results(tmp_path, "rf5")[-1] == "CANCELLED"


async def test_a_crash_before_a_held_cancels_delete_is_settled_by_the_restart(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        held, release = hold_placement(proxy, forwarded=False)
        await svc.submit(intent("rf6", order_type="LIMIT", price=1400.0))
        await asyncio.wait_for(held.wait(), 5)
        answer = await asyncio.wait_for(svc.cancel_order(intent_id="rf6"), 5)
        assert "cancel pending" in (answer.message or ""), answer
        arrived, gone = hold_deletes(proxy)
        release.set()  # answered: the held cancel is journaled as sent, and its DELETE held
        await asyncio.wait_for(arrived.wait(), 5)
        await svc.kill()
        gone.set()
        proxy.hooks.clear()
        assert deletes(sim) == 0

        svc2 = ExecutionService(config, clock=LiveClock(), access_token="token123")
        seen = Collector(svc2)
        async with svc2:
            await seen.until("rf6", "CANCELLED")
    assert broker_order(sim, "rf6")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("rf6"): 1}
    assert deletes(sim) == 1
    assert story(cancel_records(tmp_path, sim, "rf6"))[-2:] == [(True, 1, False), (False, 1, False)]


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[3])
    from execsvc import ExecutionService, OrderIntent
    from execsvc.clock import LiveClock
    from tests.integration.test_live_kite import live_config

    class Fake:
        url = sys.argv[2]
        ws_url = sys.argv[2].replace("http", "ws") + "/"

    async def main():
        config = live_config(__import__("pathlib").Path(sys.argv[1]), Fake)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            placed = await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="k", side="BUY",
                                                          qty=7, order_type="LIMIT", price=1400.0,
                                                          intent_id="rf7"))
            print("placed", placed.status, flush=True)
            await svc.cancel_order(placed.order_id)
            print("answered", flush=True)

    asyncio.run(main())
    """
)


async def test_kill_9_after_the_cancel_is_journaled_and_before_the_broker_takes_it(tmp_path, sim):
    # the DELETE waits at the broker's door long past this test: the broker never carries it out
    sim.set_faults(latency_ms=[{"pattern": "/orders/*", "method": "DELETE", "ms": 120_000}])
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(tmp_path), sim.url, str(REPO),
        stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"placed PLACED"
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] >= 1), 10)
    child.send_signal(signal.SIGKILL)
    await child.wait()
    sim.set_faults()
    assert deletes(sim) == 0 and broker_order(sim, "rf7")["status"] == "OPEN"

    config = live_config(tmp_path, sim)
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    seen = Collector(svc)
    async with svc:
        await seen.until("rf7", "CANCELLED")
        report = svc.reconciliation
    assert report is not None and report.cancels_resent == [tag_for("rf7")]
    assert broker_order(sim, "rf7")["status"] == "CANCELLED"
    assert deletes(sim) == 1
    assert final_results(tmp_path, "rf7")[-1] == "CANCELLED"
