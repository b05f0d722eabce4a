"""A held cancel (asked for while the placement was in flight) that the service carried out, then
died before its DELETE reached the broker: the caller was answered long ago (``cancel pending``)
and will not ask again, so the restart must send it. It used to be lost: the journal said "sent",
and the order went on working at the broker."""

from __future__ import annotations

import asyncio

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.integration.test_live_cancel_in_flight import hold_placement
from tests.integration.test_live_cancel_unknown import broker_order, cancels_sent, final_results
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Forward, Proxy, response


def drop_cancels(proxy: Proxy) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every DELETE, never to reach the broker. Returns (held, release)."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse:
        held.set()
        await release.wait()
        return response(503, "text/plain", b"gone")

    proxy.hook("DELETE", "/orders/", hook)
    return held, release


async def test_a_held_cancel_whose_delete_a_kill_cut_off_is_sent_at_the_restart(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        placing, placed = hold_placement(proxy, forwarded=True)  # the broker has the order
        deleting, drop = drop_cancels(proxy)
        await svc.submit(intent("hc1", order_type="LIMIT", price=1400.0))
        await asyncio.wait_for(placing.wait(), 5)
        answer = await asyncio.wait_for(svc.cancel_order(intent_id="hc1"), 5)
        assert "cancel pending" in (answer.message or ""), answer
        placed.set()  # the answer comes: the held cancel is journaled as sent, its DELETE leaves ...
        await asyncio.wait_for(deleting.wait(), 5)
        await svc.kill()  # ... and the service dies before it reaches the broker
        drop.set()
        proxy.hooks.clear()
        assert broker_order(sim, "hc1")["status"] == "OPEN"

        svc2 = ExecutionService(config, clock=LiveClock(), access_token="token123")
        seen = Collector(svc2)
        async with svc2:
            await seen.until("hc1", "CANCELLED")
        async with ExecutionService(config, clock=LiveClock(), access_token="token123"):
            pass  # a third start: the order is cancelled, nothing is sent again
    assert broker_order(sim, "hc1")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("hc1"): 1}
    assert cancels_sent(proxy) == 2  # the one the kill cut off, and the restart's
    assert final_results(tmp_path, "hc1")[-1] == "CANCELLED"
