"""An embedded live service opens Kite's WebSocket itself (``svc.feed``), one connection per service.

Against the simulator on an ephemeral port, with a real WebSocket: a resting order's fill reaches
the result stream on it, with the order-book poll pushed out of reach; ticks of subscribed
instruments go through the service's market path to its callbacks; a stop and a kill close the
socket; a revoked session is waited out and the new token picked up, as the daemon's ticker did.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from execsvc import ExecutionResult, ExecutionService, Tick
from execsvc.clock import LiveClock
from execsvc.errors import ServiceNotRunningError, ValidationError
from execsvc.executors.kite.auth import save_access_token
from execsvc.sim import KiteSimulator
from tests.integration.test_live_kite import intent, live_config, tick
from tests.integration.test_live_session_expiry import NO_ENV

INFY, RELIANCE = 408065, 738561
OLD, NEW = "tok-AAAA-old-1111", "tok-BBBB-new-2222"
POLL_OUT_OF_REACH = 60.0  # no order-book poll comes within any wait below


def stats(sim: KiteSimulator) -> dict[str, Any]:
    return sim.stats()


async def until(sim: KiteSimulator, condition: Any, timeout: float = 5.0) -> None:
    await asyncio.wait_for(sim.wait_until(condition), timeout)


async def push_over_admin_api(sim: KiteSimulator, price: float) -> None:
    async with aiohttp.ClientSession() as http:
        body = msgspec.json.encode(Tick(symbol="NSE:INFY", instrument_token=INFY, last_price=price))
        async with http.post(f"{sim.url}/_admin/tick", data=body) as response:
            assert response.status == 200, await response.text()


async def next_result(
    results: AsyncIterator[ExecutionResult], intent_id: str, status: str
) -> ExecutionResult:
    async for result in results:
        if result.intent_id == intent_id and result.status == status:
            return result
    raise AssertionError(f"the results ended before {intent_id} {status}")


class Ticks:
    """What ``svc.feed.on_tick`` hands over, with a way to await it."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.changed = asyncio.Event()

    def __call__(self, tick: Tick) -> None:
        self.ticks.append(tick)
        self.changed.set()

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


async def test_a_resting_limit_fill_comes_over_the_websocket_not_the_poll(tmp_path, sim):
    config = live_config(tmp_path, sim, poll_interval_seconds=POLL_OUT_OF_REACH)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        results = svc.results()
        await until(sim, lambda: stats(sim)["ws_open"] == 1)
        assert svc.feed.ticker is not None and svc.feed.ticker.tokens == []  # order updates only
        resting = await svc.execute_intent(intent("rest1", order_type="LIMIT", price=1490.0))
        assert resting.status == "PLACED"

        await push_over_admin_api(sim, 1489.0)  # the simulator fills it and tells its WebSocket
        filled = await asyncio.wait_for(next_result(results, "rest1", "FILLED"), 3)
        assert filled.filled_qty == 5 and filled.avg_price == 1490.0
        assert filled.order_id == resting.order_id
        assert svc.positions()[0].net_qty == 5  # the breakers' figures moved with it
    assert stats(sim)["ws_connections"] == 1 and stats(sim)["ws_open_peak"] == 1


@pytest.mark.parametrize("end", ["stop", "kill"])
async def test_a_stop_and_a_kill_close_the_socket(tmp_path, sim, end):
    svc = ExecutionService(live_config(tmp_path, sim), clock=LiveClock(), access_token="token123")
    await svc.start()
    try:
        await until(sim, lambda: stats(sim)["ws_open"] == 1)
        ticker = svc.feed.ticker
        assert ticker is not None
        await asyncio.wait_for(ticker.connected.wait(), 5)
    finally:
        await (svc.stop() if end == "stop" else svc.kill())
    await until(sim, lambda: stats(sim)["ws_open"] == 0)
    assert stats(sim)["ws_connections"] == 1


async def test_an_embedder_subscribes_on_the_same_connection_and_gets_ticks_after_the_market_path(
    tmp_path, sim, caplog
):
    caplog.set_level(logging.WARNING)
    config = live_config(tmp_path, sim, poll_interval_seconds=POLL_OUT_OF_REACH)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        seen = Ticks()
        prices: list[float | None] = []
        svc.feed.on_tick(lambda t: prices.append(svc.engine.executor.last_price(t.symbol)))
        svc.feed.on_tick(seen)

        def broken(t: Tick) -> None:
            raise RuntimeError("a runner's bug")

        remove_broken = svc.feed.on_tick(broken)
        await until(sim, lambda: stats(sim)["ws_open"] == 1)
        await svc.feed.subscribe([INFY], "full")
        await seen.until(lambda: len(seen.ticks) >= 1)  # the subscription's snapshot: 1,500
        assert seen.ticks[0].symbol == "NSE:INFY" and seen.ticks[0].last_price == 1500.0
        assert prices[0] == 1500.0  # the service's market path had it first
        sim.push_tick(tick(1501.0))
        await seen.until(lambda: any(t.last_price == 1501.0 for t in seen.ticks))
        failures = svc.feed.callback_failures
        assert failures == len(seen.ticks) >= 2  # each logged, and the feed went on
        remove_broken()

        await svc.feed.subscribe([RELIANCE], "ltp")
        sim.push_tick(tick(2500.0, symbol="NSE:RELIANCE", token=RELIANCE))
        await seen.until(lambda: any(t.instrument_token == RELIANCE for t in seen.ticks))
        assert [t.mode for t in seen.ticks if t.instrument_token == RELIANCE][-1] == "ltp"

        await svc.feed.unsubscribe([INFY])
        # a mode change after it: its snapshot says the simulator has read the unsubscribe
        await svc.feed.subscribe([RELIANCE], "quote")
        await seen.until(lambda: any(t.mode == "quote" for t in seen.ticks if t.instrument_token == RELIANCE))
        sim.push_tick(tick(1502.0))
        sim.push_tick(tick(2501.0, symbol="NSE:RELIANCE", token=RELIANCE))  # after INFY's, if any came
        await seen.until(lambda: any(t.last_price == 2501.0 for t in seen.ticks))
        assert not any(t.last_price == 1502.0 for t in seen.ticks)

        # a reconnect subscribes every token again, each in its own mode
        await svc.feed.subscribe([INFY], "ltp")
        await seen.until(lambda: any(t.mode == "ltp" for t in seen.ticks if t.instrument_token == INFY))
        ticker = svc.feed.ticker
        assert ticker is not None and ticker.modes == {RELIANCE: "quote", INFY: "ltp"}
        before = len(seen.ticks)
        assert sim.disconnect_websockets() == 1
        await seen.until(
            lambda: (
                {(t.instrument_token, t.mode) for t in seen.ticks[before:]}
                >= {(INFY, "ltp"), (RELIANCE, "quote")}
            )
        )
        assert ticker.connects == 2

        for bad in ([0], [1 << 32], [True], ["408065"], "408065"):
            with pytest.raises(ValidationError):
                await svc.feed.subscribe(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="mode"):
            await svc.feed.subscribe([INFY], "depth")
        with pytest.raises(ValidationError, match="3000"):
            await svc.feed.subscribe(range(1, 3002))
    # one connection at a time for the updates and every tick (the second after the cut)
    assert (stats(sim)["ws_connections"], stats(sim)["ws_open_peak"]) == (2, 1)
    assert svc.feed.callback_failures == failures  # removed: called no more
    assert sum("a tick callback failed" in r.getMessage() for r in caplog.records) == failures
    with pytest.raises(ServiceNotRunningError):
        await svc.feed.subscribe([INFY])


async def test_with_kite_websocket_false_nothing_opens_until_something_is_subscribed(tmp_path, sim):
    config = live_config(tmp_path, sim, websocket=False)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        assert svc.feed.ticker is None
        resting = await svc.execute_intent(intent("w1", order_type="LIMIT", price=1490.0))
        assert resting.status == "PLACED" and stats(sim)["ws_connections"] == 0
        seen = Ticks()
        svc.feed.on_tick(seen)
        await svc.feed.subscribe([INFY])
        await seen.until(lambda: len(seen.ticks) >= 1)
    assert stats(sim)["ws_connections"] == 1


async def test_a_revoked_session_is_waited_out_and_the_new_token_reconnects_the_services_socket(
    tmp_path, sim, caplog
):
    caplog.set_level(logging.DEBUG)
    config = live_config(
        tmp_path / "journal",
        sim,
        access_token_file=str(tmp_path / "secrets" / "kite_token"),
        access_token_env=NO_ENV,
    )
    save_access_token(config.kite, OLD)
    async with ExecutionService(config, clock=LiveClock()) as svc:
        assert svc.kite_client is not None and svc.feed.ticker is not None
        session, ticker = svc.kite_client.auth, svc.feed.ticker
        results = svc.results()
        seen = Ticks()
        svc.feed.on_tick(seen)
        await svc.feed.subscribe([INFY])
        await seen.until(lambda: len(seen.ticks) >= 1)

        sim.revoke_session()  # its socket is cut; the reconnect is refused with HTTP 403
        await until(sim, lambda: stats(sim)["ws_token_refused"] >= 1)
        await asyncio.wait_for(session.wait_state("expired"), 5)
        assert ticker.state == "session_expired"

        save_access_token(config.kite, NEW)  # `execsvc login`: re-read, reconciled, handed over
        await asyncio.wait_for(session.wait_state("valid"), 5)
        await asyncio.wait_for(ticker.connected.wait(), 5)
        assert ticker.connects == 2
        before = len(seen.ticks)
        sim.push_tick(tick(1495.0))
        await seen.until(lambda: len(seen.ticks) > before)  # subscribed again

        resting = await svc.execute_intent(intent("after", order_type="LIMIT", price=1490.0))
        assert resting.status == "PLACED"
        sim.push_tick(tick(1489.0))
        await asyncio.wait_for(next_result(results, "after", "FILLED"), 5)
    assert stats(sim)["ws_token_refused"] == 1  # the dead token was not hammered
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "execsvc login" in errors[0].getMessage()
    journal = next((tmp_path / "journal").glob("*.jsonl")).read_text()
    events = [json.loads(line)["ev"] for line in journal.splitlines()]
    states = [e["state"] for e in events if e["type"] == "broker_session"]
    assert states == ["expired", "restored"]
    for secret in (OLD, NEW):
        assert secret not in caplog.text and secret not in journal
