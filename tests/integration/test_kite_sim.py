"""The Kite simulator against the official clients: kiteconnect's REST client and KiteTicker's parser.

Every test runs a real simulator on a loopback port. The sim clock is a ReplayClock, so timestamps
and rate-limit windows only move when a test says so. Nothing sleeps: tests await the thing
itself (a frame, a postback, a response) with a timeout as a hang guard.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web
from kiteconnect import KiteConnect, KiteTicker
from kiteconnect import exceptions as kex

from execsvc.clock import ReplayClock
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.sim import KiteSimulator, RateLimits
from execsvc.sim.params import MARKET_PROTECTION_MESSAGE
from tests.conftest import OPEN_NS, SECOND

INFY, SBIN = 408065, 779521
NO_LIMITS = RateLimits(
    orders_per_second=None,
    orders_per_minute=None,
    orders_per_day=None,
    quote_per_second=None,
    other_per_second=None,
)
GUARD = 5.0


def full_tick(price: float, ts: int = OPEN_NS, symbol: str = "NSE:INFY") -> Tick:
    """A tick with every field the full packet carries."""
    return Tick(
        symbol=symbol,
        last_price=price,
        ts_event=ts,
        last_traded_quantity=7,
        average_traded_price=price - 1.25,
        volume_traded=1_192_471,
        total_buy_quantity=256_443,
        total_sell_quantity=363_009,
        ohlc=OHLC(open=price - 5, high=price + 3, low=price - 8, close=price - 6),
        oi=10,
        oi_day_high=12,
        oi_day_low=9,
        last_trade_time=ts // SECOND,
        exchange_timestamp=ts // SECOND,
        depth=Depth(
            buy=tuple(DepthLevel(100 + i, price - 0.05 * (i + 1), i + 1) for i in range(5)),
            sell=tuple(DepthLevel(200 + i, price + 0.05 * (i + 1), i + 2) for i in range(5)),
        ),
    )


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(OPEN_NS)


@pytest.fixture
async def sim(clock: ReplayClock) -> AsyncIterator[KiteSimulator]:
    async with KiteSimulator(clock=clock, rate_limits=NO_LIMITS, heartbeat_seconds=30.0) as running:
        running.push_tick(full_tick(1500.0))
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Kite:
    """The official client, run in a worker thread."""

    def __init__(self, root: str, api_key: str = "k", access_token: str = "t") -> None:
        self.client = KiteConnect(api_key=api_key, access_token=access_token, root=root)

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)

    async def buy(self, order_type: str = "LIMIT", qty: int = 1, **kw: Any) -> str:
        kw.setdefault("transaction_type", "BUY")
        order_id: str = await self(
            "place_order", variety="regular", exchange="NSE", tradingsymbol=kw.pop("tradingsymbol", "INFY"),
            quantity=qty, product="MIS", order_type=order_type, **kw,
        )  # fmt: skip
        return order_id


@pytest.fixture
def kite(sim: KiteSimulator) -> Kite:
    return Kite(sim.url)


async def admin(http: aiohttp.ClientSession, sim: KiteSimulator, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    async with http.request(method, f"{sim.url}/_admin/{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


# --- the official REST client ------------------------------------------------------------------------


async def test_orders_trades_and_positions_through_kiteconnect(sim: KiteSimulator, kite: Kite) -> None:
    market_id = await kite.buy("MARKET", qty=2, market_protection=-1, tag="mkt1")
    limit_id = await kite.buy("LIMIT", price=1490.0, tag="lim1")

    orders = {o["order_id"]: o for o in await kite("orders")}
    history = await kite("order_history", market_id)
    trades = await kite("trades")
    positions = await kite("positions")

    assert len(market_id) == 19 and market_id.isdigit()
    done, resting = orders[market_id], orders[limit_id]
    assert (done["status"], done["filled_quantity"], done["tag"]) == ("COMPLETE", 2, "mkt1")
    assert done["tags"] == ["mkt1", "mktp", "mktp:2.00"] and done["market_protection"] == -1
    assert isinstance(done["order_timestamp"], dt.datetime)  # parsed by kiteconnect: 19-char Kite time
    assert (resting["status"], resting["pending_quantity"], resting["price"]) == ("OPEN", 1, 1490.0)
    assert [h["status"] for h in history] == [
        "PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE",
    ]  # fmt: skip
    assert [(t["order_id"], t["quantity"]) for t in trades] == [(market_id, 2)]
    assert positions["net"][0]["quantity"] == 2 and positions["day"][0]["buy_quantity"] == 2


async def test_wait_until_wakes_on_the_request_that_makes_it_true(sim: KiteSimulator, kite: Kite) -> None:
    """``KiteSimulator.wait_until`` re-checks after each request it serves: no polling in tests."""
    placed = asyncio.ensure_future(
        sim.wait_until(lambda: any(o.get("tag") == "waited" for o in sim.orders()))
    )
    await asyncio.sleep(0)  # the waiter is parked: nothing has been placed yet
    assert not placed.done()
    await kite.buy("LIMIT", price=1490.0, tag="other")
    await asyncio.sleep(0)
    assert not placed.done(), "woke for an order that does not satisfy the condition"
    await kite.buy("LIMIT", price=1490.0, tag="waited")
    await asyncio.wait_for(placed, 5)  # a hang guard only


async def test_a_request_held_by_a_latency_fault_is_counted_on_arrival(
    sim: KiteSimulator, kite: Kite
) -> None:
    """A test can await the request the broker is sitting on (``held_by_latency``), not poll for it."""
    sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 300}])
    order = asyncio.ensure_future(kite.buy("LIMIT", price=1490.0, tag="held"))
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] == 1), 5)
    assert sim.stats()["placements"] == 0 and not sim.orders()  # arrived, not yet handled
    order_id = await asyncio.wait_for(order, 5)
    assert [o["order_id"] for o in sim.orders()] == [order_id]
    assert sim.stats()["placements"] == 1 and sim.stats()["held_by_latency"] == 1


async def test_modify_cancel_and_stop_orders_through_kiteconnect(
    sim: KiteSimulator, kite: Kite, clock: ReplayClock
) -> None:
    limit_id = await kite.buy("LIMIT", price=1490.0)
    stop_id = await kite.buy("SL", price=1521.0, trigger_price=1520.0)

    assert await kite("modify_order", "regular", limit_id, price=1495.0, quantity=3) == limit_id
    sim.push_tick(full_tick(1494.0, OPEN_NS + SECOND))
    assert await kite("cancel_order", "regular", stop_id) == stop_id
    with pytest.raises(kex.OrderException) as refused:
        await kite("cancel_order", "regular", stop_id)

    limit_history = [h["status"] for h in await kite("order_history", limit_id)]
    stop = (await kite("order_history", stop_id))[-1]
    fills = await kite("order_trades", limit_id)
    assert "MODIFIED" in limit_history and limit_history[-1] == "COMPLETE"
    assert [(f["quantity"], f["average_price"]) for f in fills] == [(3, 1495.0)]
    assert (stop["status"], stop["cancelled_quantity"]) == ("CANCELLED", 1)
    assert refused.value.code == 400
    sl_m = await kite.buy("SL-M", trigger_price=1500.5, market_protection=-1)
    sim.push_tick(full_tick(1501.0, OPEN_NS + 2 * SECOND))
    assert (await kite("order_history", sl_m))[-1]["status"] == "COMPLETE"


async def test_a_modification_shows_in_the_history_at_the_old_terms_until_the_order_is_open_again(
    sim: KiteSimulator, kite: Kite
) -> None:
    order_id = await kite.buy("LIMIT", price=1490.0)
    await kite("modify_order", "regular", order_id, price=1495.0)

    history = [(h["status"], h["price"]) for h in await kite("order_history", order_id)]

    assert history[-4:] == [
        ("MODIFY VALIDATION PENDING", 1490.0),
        ("MODIFY PENDING", 1490.0),
        ("MODIFIED", 1490.0),
        ("OPEN", 1495.0),
    ]


async def test_account_market_data_and_session_endpoints(sim: KiteSimulator, kite: Kite) -> None:
    quote = (await kite("quote", "NSE:INFY", "NSE:NOPE"))["NSE:INFY"]
    ltp = await kite("ltp", "NSE:INFY")
    ohlc = await kite("ohlc", "NSE:INFY")
    instruments = await kite("instruments", "NSE")
    margins, equity, profile = await kite("margins"), await kite("margins", "equity"), await kite("profile")

    assert (quote["instrument_token"], quote["last_price"], quote["volume"]) == (INFY, 1500.0, 1_192_471)
    assert quote["depth"]["sell"][0] == {"price": 1500.05, "quantity": 200, "orders": 2}
    assert ltp == {"NSE:INFY": {"instrument_token": INFY, "last_price": 1500.0}}
    assert ohlc["NSE:INFY"]["ohlc"]["close"] == 1494.0
    assert {i["tradingsymbol"] for i in instruments} >= {"INFY", "SBIN"}
    assert set(margins) == {"equity", "commodity"} and equity["enabled"] is True
    assert profile["user_id"] == "SIM001"


async def test_session_token_checks_the_checksum_and_issues_a_working_token() -> None:
    async with KiteSimulator(api_secret="secret", require_access_token="never", rate_limits=NO_LIMITS) as sim:
        kite = Kite(sim.url, access_token="")
        session = await kite("generate_session", "req-token", api_secret="secret")
        with pytest.raises(kex.TokenException):
            await kite("generate_session", "req-token", api_secret="wrong")
        profile = await kite("profile")  # generate_session set the access token

    assert len(session["access_token"]) == 32 and session["api_key"] == "k"
    assert isinstance(session["login_time"], dt.datetime)
    assert profile["user_id"] == "SIM001"


# --- errors come out as the right kiteconnect exceptions -------------------------------------------------


async def test_bad_params_are_input_exceptions(kite: Kite) -> None:
    with pytest.raises(kex.InputException) as no_protection:
        await kite.buy("MARKET")
    with pytest.raises(kex.InputException) as zero:
        await kite.buy("MARKET", market_protection=0)
    with pytest.raises(kex.InputException) as off_tick:
        await kite.buy("LIMIT", price=1500.01)

    assert no_protection.value.code == 400 and str(no_protection.value) == MARKET_PROTECTION_MESSAGE
    assert str(zero.value) == MARKET_PROTECTION_MESSAGE
    assert "Tick size" in str(off_tick.value)


async def test_bad_token_is_a_token_exception_when_tokens_are_checked() -> None:
    async with KiteSimulator(require_api_key="k", require_access_token="good") as sim:
        with pytest.raises(kex.TokenException) as bad:
            await Kite(sim.url, access_token="bad")("orders")
        with pytest.raises(kex.TokenException):
            await Kite(sim.url, api_key="other", access_token="good")("orders")
        assert await Kite(sim.url, access_token="good")("orders") == []

    assert bad.value.code == 403


@pytest.mark.parametrize(
    ("status", "exception"),
    [(500, kex.GeneralException), (502, kex.DataException), (503, kex.NetworkException)],
)
async def test_forced_5xx_envelopes_map_to_kiteconnect_exceptions(
    sim: KiteSimulator, kite: Kite, status: int, exception: type[Exception]
) -> None:
    sim.set_faults(http_5xx=[{"pattern": "/orders", "method": "GET", "status": status}])

    with pytest.raises(exception) as raised:
        await kite("orders")

    assert raised.value.code == status  # type: ignore[attr-defined]
    assert await kite("orders") == []  # consumed
    assert sim.stats()["http_5xx"] == 1


async def test_rate_limits_answer_429_and_the_stats_prove_it(clock: ReplayClock) -> None:
    async with KiteSimulator(clock=clock, rate_limits=RateLimits()) as sim:
        sim.push_tick(full_tick(1500.0))
        kite = Kite(sim.url)
        results = []
        for _ in range(12):
            try:
                results.append(await kite.buy("LIMIT", price=1400.0, tag="burst"))
            except kex.NetworkException as exc:
                results.append(exc.code)
        await kite("quote", "NSE:INFY")
        with pytest.raises(kex.NetworkException) as quote_429:
            await kite("quote", "NSE:INFY")
        clock.advance(1.0)
        after = await kite.buy("LIMIT", price=1400.0, tag="later")
        stats = sim.stats()

    assert results[10:] == [429, 429] and all(isinstance(r, str) for r in results[:10])
    assert quote_429.value.code == 429 and str(quote_429.value) == "Too many requests"
    assert after.isdigit()
    assert stats["requests"]["orders"] == 13 and stats["rejected_429"] == {
        "orders": 2,
        "quote": 1,
        "other": 0,
    }
    assert stats["max_orders_in_1s"] == 12 and stats["placements_per_tag"] == {"burst": 10, "later": 1}


async def test_forced_429_is_a_network_exception(sim: KiteSimulator, kite: Kite) -> None:
    sim.set_faults(http_429={"count": 1})

    with pytest.raises(kex.NetworkException) as raised:
        await kite.buy("LIMIT", price=1400.0)
    order_id = await kite.buy("LIMIT", price=1400.0)

    assert raised.value.code == 429 and order_id.isdigit()
    assert sim.stats()["forced_429"] == 1 and len(sim.orders()) == 1


# --- faults ----------------------------------------------------------------------------------------------


async def test_drop_after_accept_creates_the_order_but_the_client_sees_a_dropped_connection(
    sim: KiteSimulator, kite: Kite, http: aiohttp.ClientSession
) -> None:
    await admin(http, sim, "faults", {"drop_after_accept": {"count": 1}})

    with pytest.raises(requests.ConnectionError):
        await kite.buy("LIMIT", price=1400.0, tag="dropped1")
    orders = await admin(http, sim, "orders")

    assert [(o["tag"], o["status"]) for o in orders] == [("dropped1", "OPEN")]
    assert [o["tag"] for o in await kite("orders")] == ["dropped1"]
    assert (await admin(http, sim, "stats"))["dropped_connections"] == 1


@pytest.mark.parametrize("placed", [True, False])
async def test_5xx_after_or_instead_of_placing(sim: KiteSimulator, kite: Kite, placed: bool) -> None:
    sim.set_faults(
        {"http_5xx": [{"pattern": "/orders/*", "method": "POST", "status": 500, "placed": placed}]}
    )

    with pytest.raises(kex.GeneralException):
        await kite.buy("LIMIT", price=1400.0, tag="maybe")

    assert [o["tag"] for o in sim.orders()] == (["maybe"] if placed else [])


async def test_reject_next_and_partial_fill(sim: KiteSimulator, kite: Kite) -> None:
    sim.set_faults(reject_next={"count": 1}, partial_fill={"count": 1, "fraction": 0.4})

    rejected = await kite.buy("LIMIT", price=1400.0)
    partial = await kite.buy("MARKET", qty=10, market_protection=-1)
    first = (await kite("order_history", partial))[-1]
    sim.push_tick(full_tick(1500.0, OPEN_NS + SECOND))
    trades = await kite("order_trades", partial)
    last = (await kite("order_history", rejected))[-1]

    assert last["status"] == "REJECTED" and last["status_message"].startswith("Insufficient funds.")
    assert (first["status"], first["filled_quantity"], first["pending_quantity"]) == ("OPEN", 4, 6)
    assert [t["quantity"] for t in trades] == [4, 6] and trades[0]["trade_id"] != trades[1]["trade_id"]
    assert (await kite("order_history", partial))[-1]["status"] == "COMPLETE"


async def test_latency_fault_delays_matching_requests(sim: KiteSimulator, kite: Kite) -> None:
    sim.set_faults(latency_ms=[{"pattern": "/user/*", "ms": 150}])
    loop = asyncio.get_running_loop()

    start = loop.time()
    await kite("profile")
    slow = loop.time() - start
    start = loop.time()
    await kite("orders")
    fast = loop.time() - start

    assert slow >= 0.15 > fast


async def test_admin_tick_faults_and_reset(
    sim: KiteSimulator, kite: Kite, http: aiohttp.ClientSession
) -> None:
    pushed = await admin(http, sim, "tick", [{"symbol": "NSE:SBIN", "last_price": 800.0}])
    await kite.buy("LIMIT", price=801.0, tradingsymbol="SBIN")
    faults = await admin(http, sim, "faults", {"reject_next": {"count": 3}})
    async with http.post(f"{sim.url}/_admin/faults", json={"nope": 1}) as bad:
        bad_body = await bad.json()
    await admin(http, sim, "reset", {})

    assert pushed == {"pushed": 1, "tokens": [SBIN]}
    assert faults["remaining"]["reject_next"] == 3
    assert bad.status == 400 and bad_body["error_type"] == "InputException"
    assert sim.orders() == [] and sim.stats()["placements"] == 0
    assert (await kite("ltp", "NSE:SBIN"))["NSE:SBIN"]["last_price"] == 800.0


# --- WebSocket -------------------------------------------------------------------------------------------


async def next_frame(ws: aiohttp.ClientWebSocketResponse, *, heartbeats: bool = False) -> aiohttp.WSMessage:
    """The next message, skipping 1-byte heartbeats unless asked for."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), GUARD)
        if heartbeats or msg.type != aiohttp.WSMsgType.BINARY or len(msg.data) > 1:
            return msg


def parsed(msg: aiohttp.WSMessage) -> list[dict[str, Any]]:
    assert msg.type == aiohttp.WSMsgType.BINARY
    ticks: list[dict[str, Any]] = KiteTicker("k", "t")._parse_binary(msg.data)
    return ticks


def ws_url(sim: KiteSimulator, api_key: str = "k", token: str = "t") -> str:
    return f"{sim.ws_url}?api_key={api_key}&access_token={token}"


async def test_websocket_frames_decode_with_kiteticker_to_the_pushed_values(
    sim: KiteSimulator, http: aiohttp.ClientSession
) -> None:
    sim.push_tick(full_tick(800.0, symbol="NSE:SBIN"))
    async with http.ws_connect(ws_url(sim)) as ws:
        await ws.send_str(json.dumps({"a": "subscribe", "v": [INFY]}))
        [snapshot] = parsed(await next_frame(ws))
        await ws.send_str(json.dumps({"a": "mode", "v": ["full", [INFY]]}))
        await next_frame(ws)  # the full snapshot
        pushed = sim.push_tick(full_tick(1502.35, OPEN_NS + 3 * SECOND))
        [full] = parsed(await next_frame(ws))
        await ws.send_str(json.dumps({"a": "unsubscribe", "v": [INFY]}))
        await ws.send_str(json.dumps({"a": "mode", "v": ["ltp", [SBIN]]}))
        await next_frame(ws)  # SBIN's snapshot: both messages were handled
        sim.push_tick(full_tick(1503.0, OPEN_NS + 4 * SECOND))
        sim.push_tick(full_tick(801.0, OPEN_NS + 4 * SECOND, symbol="NSE:SBIN"))
        [ltp] = parsed(await next_frame(ws))

    assert (snapshot["mode"], snapshot["last_price"], snapshot["instrument_token"]) == ("quote", 1500.0, INFY)
    assert full["mode"] == "full" and full["last_price"] == pushed.last_price
    assert full["ohlc"] == {"open": 1497.35, "high": 1505.35, "low": 1494.35, "close": 1496.35}
    assert (full["volume_traded"], full["last_traded_quantity"], full["oi"]) == (1_192_471, 7, 10)
    assert full["average_traded_price"] == 1501.1
    assert full["exchange_timestamp"] == dt.datetime.fromtimestamp(pushed.exchange_timestamp)
    assert full["depth"]["buy"][0] == {"quantity": 100, "price": 1502.3, "orders": 1}
    assert full["depth"]["sell"][4] == {"quantity": 204, "price": 1502.6, "orders": 6}
    assert ltp == {"tradable": True, "mode": "ltp", "instrument_token": SBIN, "last_price": 801.0}


async def test_full_packets_always_carry_a_time_as_kites_do(
    sim: KiteSimulator, clock: ReplayClock, http: aiohttp.ClientSession
) -> None:
    # Kite stamps every full packet (FACTS.md 4.3); a pushed tick without exchange_timestamp went out
    # as 0, which a client takes for "no time" (executors/paper/last_session)
    sim.push_tick(Tick(symbol="NSE:SBIN", last_price=800.0, ts_event=OPEN_NS + 5 * SECOND))
    async with http.ws_connect(ws_url(sim)) as ws:
        await ws.send_str(json.dumps({"a": "mode", "v": ["full", [SBIN]]}))
        [snapshot] = parsed(await next_frame(ws))
        clock.advance_to(OPEN_NS + 9 * SECOND)
        as_pushed = sim.push_tick(Tick(symbol="NSE:SBIN", last_price=801.0))  # no time: the sim's clock
        [untimed] = parsed(await next_frame(ws))
        sim.push_tick(full_tick(802.0, OPEN_NS + 12 * SECOND, symbol="NSE:SBIN"))  # stamped: as is
        [stamped] = parsed(await next_frame(ws))

    def at(ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ns // SECOND)

    assert (snapshot["mode"], snapshot["exchange_timestamp"]) == ("full", at(OPEN_NS + 5 * SECOND))
    assert untimed["exchange_timestamp"] == at(OPEN_NS + 9 * SECOND)
    assert stamped["exchange_timestamp"] == at(OPEN_NS + 12 * SECOND)
    assert as_pushed.exchange_timestamp == 0  # stamped on the wire only: quotes and the book unchanged


async def test_order_updates_arrive_as_text_frames(
    sim: KiteSimulator, kite: Kite, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(sim)) as ws:
        await ws.send_str(json.dumps({"a": "subscribe", "v": [INFY]}))
        await next_frame(ws)  # the snapshot: this connection is registered
        order_id = await kite.buy("MARKET", market_protection=-1)
        updates = [json.loads((await next_frame(ws)).data) for _ in range(2)]

    assert [u["type"] for u in updates] == ["order", "order"]
    assert [(u["data"]["order_id"], u["data"]["status"]) for u in updates] == [
        (order_id, "OPEN"),
        (order_id, "COMPLETE"),
    ]
    assert updates[1]["data"]["unfilled_quantity"] == 0 and updates[1]["data"]["app_id"] == 1234


async def test_order_updates_reach_every_websocket_of_the_user_whichever_app_placed_the_order(
    sim: KiteSimulator, kite: Kite, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(sim, api_key="other-app")) as ws:
        await ws.send_str(json.dumps({"a": "subscribe", "v": [INFY]}))
        await next_frame(ws)  # the snapshot: this connection is registered
        order_id = await kite.buy("LIMIT", price=1490.0)  # placed with api_key "k"
        update = json.loads((await next_frame(ws)).data)

    assert (update["type"], update["data"]["order_id"], update["data"]["status"]) == (
        "order",
        order_id,
        "OPEN",
    )


async def test_fourth_connection_gets_429_and_bad_credentials_403(
    clock: ReplayClock, http: aiohttp.ClientSession
) -> None:
    async with KiteSimulator(clock=clock, require_access_token="t") as sim:
        conns = [await http.ws_connect(ws_url(sim)) for _ in range(3)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as fourth:
            await http.ws_connect(ws_url(sim))
        with pytest.raises(aiohttp.WSServerHandshakeError) as bad_token:
            await http.ws_connect(ws_url(sim, api_key="other", token="bad"))
        other_key = await http.ws_connect(ws_url(sim, api_key="other"))
        for conn in [*conns, other_key]:
            await conn.close()
        stats = sim.stats()

    assert fourth.value.status == 429 and bad_token.value.status == 403
    assert (stats["ws_connections"], stats["ws_refused"]) == (4, 1)


async def test_heartbeat_when_idle_and_disconnect_fault(
    clock: ReplayClock, http: aiohttp.ClientSession
) -> None:
    async with KiteSimulator(clock=clock, heartbeat_seconds=0.02) as sim:
        async with http.ws_connect(ws_url(sim)) as ws:
            heartbeat = await next_frame(ws, heartbeats=True)
            sim.set_faults(ws_disconnect={"now": True})
            while (msg := await next_frame(ws)).type == aiohttp.WSMsgType.BINARY:
                pass
        stats = sim.stats()

    assert heartbeat.type == aiohttp.WSMsgType.BINARY and len(heartbeat.data) == 1
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
    assert stats["ws_dropped"] == 1


async def test_periodic_disconnects(clock: ReplayClock, http: aiohttp.ClientSession) -> None:
    async with KiteSimulator(clock=clock, faults={"ws_disconnect": {"every_seconds": 0.05}}) as sim:
        for _ in range(2):
            async with http.ws_connect(ws_url(sim)) as ws:
                closed = await next_frame(ws)
                assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        stats = sim.stats()

    assert stats["ws_connections"] == 2 and stats["ws_dropped"] >= 2


async def test_unknown_routes_still_answer_with_a_kite_envelope(
    sim: KiteSimulator, http: aiohttp.ClientSession
) -> None:
    headers = {"X-Kite-Version": "3", "Authorization": "token k:t"}
    async with http.get(f"{sim.url}/nope", headers=headers) as missing:
        body = await missing.json()
    async with http.get(f"{sim.url}/orders") as no_auth:
        denied = await no_auth.json()

    assert missing.status == 404 and missing.content_type == "application/json"
    assert body["status"] == "error" and body["error_type"] and body["message"]
    assert (no_auth.status, denied["error_type"]) == (400, "InputException")


# --- postbacks and tick files ------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, Any]]]]:
    """A loopback postback receiver: its URL and the JSON bodies it got."""
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await got.put(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/postback", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/postback", got
    await runner.cleanup()


async def test_postbacks_are_signed_and_sent_for_final_statuses(
    clock: ReplayClock, receiver: tuple[str, asyncio.Queue[dict[str, Any]]]
) -> None:
    url, got = receiver
    async with KiteSimulator(
        clock=clock, postback_url=url, api_secret="s3cret", rate_limits=NO_LIMITS
    ) as sim:
        sim.push_tick(full_tick(1500.0))
        order_id = await Kite(sim.url).buy("MARKET", market_protection=5)
        body = await asyncio.wait_for(got.get(), GUARD)

    expected = hashlib.sha256((order_id + body["order_timestamp"] + "s3cret").encode()).hexdigest()
    assert (body["order_id"], body["status"], body["checksum"]) == (order_id, "COMPLETE", expected)
    assert body["user_id"] == "SIM001" and body["market_protection"] == 5
    assert got.empty()  # OPEN is not posted back


async def test_tick_file_streams_on_demand_at_speed_zero(
    tmp_path: Path, clock: ReplayClock, http: aiohttp.ClientSession
) -> None:
    path = tmp_path / "ticks.jsonl"
    write_ticks(path, [full_tick(1500.0 + i, OPEN_NS + i * SECOND) for i in range(3)])
    async with KiteSimulator(clock=clock, ticks_file=str(path), speed=0) as sim:
        first = sim.step()
        ltp: Callable[[], Any] = lambda: sim.core.book.market.get("NSE:INFY")  # noqa: E731
        after_one = ltp().last_price
        stepped = await admin(http, sim, "step", {"count": 5})

    assert (first, after_one, stepped["pushed"]) == (1, 1500.0, 2)
    assert ltp().last_price == 1502.0 and clock.now_ns() == OPEN_NS + 2 * SECOND


async def test_a_mode_message_that_changes_no_mode_sends_no_second_snapshot(
    sim: KiteSimulator, http: aiohttp.ClientSession
) -> None:
    """A client subscribes, then sets the mode; quote after subscribe changed nothing, yet the
    simulator sent the same tick again, and a quote recording held each snapshot twice."""
    async with http.ws_connect(ws_url(sim)) as ws:
        await ws.send_str(json.dumps({"a": "subscribe", "v": [INFY]}))
        [snapshot] = parsed(await next_frame(ws))
        await ws.send_str(json.dumps({"a": "mode", "v": ["quote", [INFY]]}))
        await ws.send_str(json.dumps({"a": "mode", "v": ["ltp", [INFY]]}))
        [changed] = parsed(await next_frame(ws))  # the ltp snapshot: the mode did change

    assert (snapshot["mode"], changed["mode"]) == ("quote", "ltp")
