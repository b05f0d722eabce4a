"""A cancel of an after-market order (AMO) cut off by a crash at the date line is still sent.

The AMO waits at the broker for the next open, so a new day carries it (``OrdersCarried``). A
cancel journaled as sent whose DELETE never reached the broker (a proxy holds it; the service is
killed) must be carried with it: the restart on the new day finds the order working and sends it
again (``cancel_retry.hold_unanswered``), whether the crash came before the date line or after a
running service crossed it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.kite.mapping import tag_for
from tests.integration.test_live_cancel_refused import hold_deletes
from tests.integration.test_live_cancel_unknown import broker_order, final_results
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag, tick
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Proxy

DAY = dt.date(2026, 11, 20)
NEXT_DAY = DAY + dt.timedelta(days=1)
EVENING = ist_ns(DAY, 20, 0)
BEFORE_OPEN = ist_ns(NEXT_DAY, 9, 0)  # the AMO still waits at the broker (AMO REQ RECEIVED)


@pytest.mark.parametrize("crossed", [False, True], ids=["crash-before-the-line", "crash-after-the-line"])
async def test_a_carried_amos_cancel_cut_off_by_a_crash_is_sent_after_the_restart(tmp_path, sim, crossed):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        clock = ReplayClock(EVENING)
        svc = ExecutionService(config, clock=clock, access_token="token123")
        await svc.start()
        placed = await svc.execute_intent(
            intent("amo-k", variety="amo", product="CNC", order_type="LIMIT", price=1400.0)
        )
        assert placed.status == "PLACED", placed
        arrived, gone = hold_deletes(proxy)
        waiting = asyncio.ensure_future(svc.cancel_order(placed.order_id or ""))
        await asyncio.wait_for(arrived.wait(), 5)  # journaled as sent; its DELETE never reaches the broker
        if crossed:
            clock.advance_to(BEFORE_OPEN)
            await svc.on_tick(tick(1500.0))  # the date line: the AMO is carried with its cancel
        await svc.kill()
        gone.set()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        proxy.hooks.clear()
        assert sim.stats()["cancels_seen"] == 0 and broker_order(sim, "amo-k")["status"] == "AMO REQ RECEIVED"

        restart = ReplayClock(BEFORE_OPEN + 60 * 10**9)
        svc2 = ExecutionService(config, clock=restart, access_token="token123")
        seen = Collector(svc2)
        async with svc2:
            cancelled = await seen.until("amo-k", "CANCELLED")
            report = svc2.reconciliation
        async with ExecutionService(
            config, clock=ReplayClock(BEFORE_OPEN + 120 * 10**9), access_token="token123"
        ):
            pass  # a third start: the order is cancelled, nothing is sent again
    carried = [
        json.loads(line)["ev"]
        for line in (tmp_path / f"{NEXT_DAY.isoformat()}.jsonl").read_text().splitlines()
        if '"orders_carried"' in line
    ]
    # the new day's journal carries the cancel journaled as sent, as the order's day left it
    assert [(o["order"]["order_id"], "cancel_sent" in o) for e in carried for o in e["orders"]] == [
        (tag_for("amo-k"), True)
    ]
    assert cancelled.order_id == broker_order(sim, "amo-k")["order_id"]
    assert report is not None and report.cancels_resent == [tag_for("amo-k")]
    assert broker_order(sim, "amo-k")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("amo-k"): 1}
    assert sim.stats()["cancels_seen"] == 1
    assert final_results(tmp_path, "amo-k")[-1] == "CANCELLED"
