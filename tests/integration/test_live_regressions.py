"""Review findings on the live order path (execsvc/executors/kite/live.py, reconcile.py, engine idempotency).

Every test here runs the real service against the Kite simulator (sometimes behind a small proxy
that stages what the simulator's faults cannot) and fails because of the bug it names.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.integration.test_live_kite import Collector, live_config, placements_per_tag, tick
from tests.kite_proxy import Forward, Proxy, response


def via(proxy: Proxy) -> Any:
    return SimpleNamespace(url=proxy.url, ws_url=proxy.url.replace("http", "ws") + "/")


def intent(intent_id: str, side: str = "BUY", qty: int = 5, **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="rv", side=side, qty=qty, intent_id=intent_id, **kw)


async def test_same_intent_id_twice_while_the_first_is_in_flight_places_two_broker_orders(tmp_path, sim):
    """new_orders.handle_intent: idempotency only looks at first_results, which a live order fills in
    only after the POST came back; a retry of the same intent_id in that window is placed again."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        first, again = await asyncio.wait_for(
            asyncio.gather(svc.execute_intent(intent("dup1")), svc.execute_intent(intent("dup1"))), 5
        )
        assert first.status == again.status == "PLACED"
    assert placements_per_tag(sim) == {tag_for("dup1"): 1}, "one intent, two broker orders"


async def test_resubmit_after_restart_of_an_order_resting_at_the_broker_places_it_again(tmp_path, sim):
    """reconcile -> apply_order emits no result for a found order that is OPEN and unfilled, so the
    intent has no first result after the restart and a retry of the same intent_id is sent again."""
    async with Proxy(sim.url) as proxy:
        posted = asyncio.Event()
        hold = asyncio.Event()

        async def hold_response(request: web.Request, forward: Forward) -> web.StreamResponse:
            status, ctype, raw = await forward()  # the broker has the order ...
            posted.set()
            await hold.wait()  # ... but its answer never reaches the service before it dies
            return response(status, ctype, raw)

        proxy.hook("POST", "/orders/", hold_response)
        resting = intent("rest1", order_type="LIMIT", price=1400.0)
        svc = ExecutionService(live_config(tmp_path, via(proxy)), clock=LiveClock(), access_token="token123")
        await svc.start()
        await svc.submit(resting)
        await asyncio.wait_for(posted.wait(), 5)
        await svc.kill()  # a crash while the POST's answer is on its way
        hold.set()
        proxy.hooks.clear()

        async with ExecutionService(
            live_config(tmp_path, via(proxy)), clock=LiveClock(), access_token="token123"
        ) as svc2:
            assert svc2.reconciliation is not None
            assert tag_for("rest1") in svc2.reconciliation.orders_updated
            await asyncio.wait_for(svc2.execute_intent(resting), 5)  # the strategy retries its intent
    assert placements_per_tag(sim) == {tag_for("rest1"): 1}, "a restart plus a retry placed it twice"


async def test_a_placement_the_broker_processes_after_our_timeout_is_resent_and_placed_twice(tmp_path, sim):
    """unknown.resolve_unknown: after a timeout (the request *may* still be on its way) the order book
    is checked a few times and, the order not being there yet, the order is sent again: a late
    original and the resend both become broker orders."""
    async with Proxy(sim.url) as proxy:
        forwarded = asyncio.Event()
        gave_up = asyncio.Event()
        posts = 0

        async def late(request: web.Request, forward: Forward) -> web.StreamResponse | None:
            nonlocal posts
            posts += 1
            if posts > 1:
                return None
            await gave_up.wait()  # the broker's queue: it takes the order after we gave up
            status, ctype, raw = await forward()
            forwarded.set()
            return response(status, ctype, raw)

        proxy.hook("POST", "/orders/", late)
        config = live_config(tmp_path, via(proxy), timeout_seconds=0.3, poll_interval_seconds=10.0)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            first = await svc.execute_intent(intent("late1"))
            assert first.status == "UNKNOWN"
            gave_up.set()
            await asyncio.wait_for(forwarded.wait(), 4)  # the original request reached the broker
    assert placements_per_tag(sim) == {tag_for("late1"): 1}, "blind resend: the intent was placed twice"


async def test_a_fill_booked_from_the_order_average_is_booked_again_from_the_trades(tmp_path, sim):
    """live.apply_order: when the trades are unavailable the fill is synthesized with the id
    'order_id:filled_qty'; the next update books the real trades by their trade ids, which the
    synthesized fill does not carry: the same quantity is booked twice."""
    sim.set_faults(
        {
            "partial_fill": {"count": 1, "fraction": 0.4},
            "http_5xx": [{"pattern": "/orders/*/trades", "method": "GET", "status": 503, "count": 3}],
        }
    )
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent("df1", qty=10, order_type="LIMIT", price=1500.0))
        partial = await seen.until("df1", "PARTIAL")
        assert partial.filled_qty == 4
        sim.push_tick(tick(1499.0))
        done = await seen.until("df1", "FILLED")
        position = svc.positions()[0].net_qty
    assert (done.filled_qty, position) == (10, 10), "the broker filled 10; the journal booked more"


async def test_an_html_answer_to_the_order_poll_kills_the_service(tmp_path, sim):
    """BrokerDataError is not a BrokerError, so poll_orders (and resolve_unknown, apply_order,
    _cancel) let it escape: the poller task fails and the task group takes the service down."""
    async with Proxy(sim.url) as proxy:
        bad = {"left": 0}

        async def maintenance(request: web.Request, forward: Forward) -> web.StreamResponse | None:
            if bad["left"] > 0:
                bad["left"] -= 1
                return response(200, "text/html", b"<html>under maintenance</html>")
            return None

        proxy.hook("GET", "/orders", maintenance)
        outcome: dict[str, Any] = {}
        ready, checked = asyncio.Event(), asyncio.Event()

        async def run_service() -> None:
            config = live_config(tmp_path, via(proxy))
            try:
                async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
                    outcome["svc"] = svc
                    ready.set()
                    await checked.wait()
            except BaseException as exc:  # the task group's verdict
                outcome["error"] = exc
                ready.set()
                raise

        runner = asyncio.create_task(run_service())
        try:
            await asyncio.wait_for(ready.wait(), 5)
            svc: ExecutionService = outcome["svc"]
            await svc.execute_intent(intent("h1", order_type="LIMIT", price=1400.0))  # keeps the poller busy
            polls = sum(1 for m, p in proxy.seen if (m, p) == ("GET", "/orders"))
            bad["left"] = 1
            # a poller that survived the bad answer polls again
            try:
                await proxy.wait_seen("GET", "/orders", polls + 2, timeout=1.5)
            except TimeoutError:
                pass
            alive = not runner.done()
            later: ExecutionResult | None = None
            if alive:
                later = await asyncio.wait_for(
                    svc.execute_intent(intent("h2", order_type="LIMIT", price=1400.0)), 3
                )
        finally:
            checked.set()
            await asyncio.gather(runner, return_exceptions=True)
        assert alive and later is not None, (
            f"the service died on one bad broker answer: {outcome.get('error')!r}"
        )


async def test_placed_is_published_after_filled_when_the_post_answer_is_slower_than_an_update(tmp_path, sim):
    """send_placement emits PLACED after the POST returns without checking that an order update
    (poll, WebSocket, postback) has already completed the order: FILLED is followed by PLACED and
    the intent's latest result says the order is working."""
    async with Proxy(sim.url) as proxy:
        filled_seen = asyncio.Event()

        async def slow_answer(request: web.Request, forward: Forward) -> web.StreamResponse:
            status, ctype, raw = await forward()  # the MARKET order fills at once at the broker
            await asyncio.wait_for(filled_seen.wait(), 4)  # the poll sees it before the answer lands
            return response(status, ctype, raw)

        proxy.hook("POST", "/orders/", slow_answer)
        async with ExecutionService(
            live_config(tmp_path, via(proxy)), clock=LiveClock(), access_token="token123"
        ) as svc:
            seen = Collector(svc)
            waiter = asyncio.ensure_future(svc.execute_intent(intent("pf1")))
            await seen.until("pf1", "FILLED")
            filled_seen.set()
            await asyncio.wait_for(waiter, 4)
            await asyncio.wait(set(svc._inflight), timeout=4)  # the send task has its answer now
            await svc.journal.flush()
            await svc.bus.drain()
            statuses = [r.status for r in seen.results if r.intent_id == "pf1"]
            latest = svc.engine.state.latest_results["pf1"].status
    assert statuses[-1] == "FILLED" and latest == "FILLED", f"results in order: {statuses}"


async def test_the_order_poller_stops_once_the_journal_refuses_to_write(tmp_path, sim, caplog):
    """poll_orders re-raises a JournalError (the journal refused: nothing may be written) so that
    polling stops, but poll_forever caught it as a failed pass and polled on: a deposed instance
    (its journal fenced by the lost lease) read the broker's order book every poll interval for
    good, a traceback each time, on the account's rate limit beside the active instance."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        rest = await svc.execute_intent(intent("fence1", order_type="LIMIT", price=1400.0))
        assert rest.status == "PLACED"
        [poller] = [t for t in svc._lifecycle.background if t.get_name() == "order-poller"]
        svc.journal.guard = lambda: False  # the lease went to another instance
        sim.push_tick(tick(1399.0))  # the order fills: the next pass has a fill to journal
        await asyncio.wait_for(poller, 5)
        assert "this instance does not hold the lease" in caplog.text
