"""KiteRestClient against a loopback Kite stub: the wire format (compared with the official
kiteconnect client on the same server), the mocks, every error envelope, retries, network failures
and secrets.

The stub is a real aiohttp server on 127.0.0.1 port 0. It serves the official mock responses,
answers scripted errors, and records every request so tests can count them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import kiteconnect
import pytest
from aiohttp import web
from multidict import CIMultiDict

from execsvc.config import RateLimitConfig
from execsvc.errors import (
    BrokerAuthError,
    BrokerDataError,
    BrokerError,
    BrokerRateLimitError,
    BrokerRejectError,
    BrokerUnavailableError,
    ServiceNotRunningError,
)
from execsvc.events import OrderIntent
from execsvc.executors.kite import (
    KiteOrder,
    KitePosition,
    KiteRestClient,
    KiteTrade,
    RateLimiter,
    Secret,
    modify_params,
    order_params,
    tag_for,
)

MOCKS = Path(__file__).resolve().parents[1] / "kite_mocks"
API_KEY = "test_api_key"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"
GUARD = 5.0  # seconds: a hang guard only

ROUTES = {
    ("GET", "/orders"): "orders.json",
    ("GET", "/trades"): "trades.json",
    ("GET", "/portfolio/positions"): "positions.json",
    ("GET", "/portfolio/holdings"): "holdings.json",
    ("GET", "/user/margins"): "margins.json",
    ("GET", "/user/margins/equity"): "margins_equity.json",
    ("GET", "/user/profile"): "profile.json",
    ("GET", "/quote"): "quote.json",
    ("GET", "/quote/ltp"): "ltp.json",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: CIMultiDict[str]
    body: bytes

    @property
    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode())


@dataclass
class KiteStub:
    """Serves the mocks; ``script`` queues answers for one method and path; records every request."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    scripts: dict[tuple[str, str], list[tuple[str, int, Any]]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, method: str, path: str, *answers: tuple[str, int, Any]) -> None:
        self.scripts.setdefault((method, path), []).extend(answers)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if (r.method, r.path) == (method, path))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = (request.method, request.path)
        self.requests.append(
            Recorded(
                request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), body
            )
        )
        queued = self.scripts.get(key)
        if queued:
            kind, status, payload = queued.pop(0)
            if kind == "json":
                return web.Response(status=status, body=json.dumps(payload), content_type="application/json")
            if kind == "raw":
                return web.Response(status=status, body=payload, content_type="application/json")
            if kind == "html":
                return web.Response(status=status, text=payload, content_type="text/html")
            if kind == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if kind == "hang":
                await self.release.wait()
                return web.Response(status=200)
            raise AssertionError(kind)
        return web.Response(body=(MOCKS / self.mock_for(*key)).read_bytes(), content_type="application/json")

    @staticmethod
    def mock_for(method: str, path: str) -> str:
        if (method, path) in ROUTES:
            return ROUTES[(method, path)]
        parts = path.strip("/").split("/")
        if parts[0] == "orders":
            if method == "POST" and len(parts) == 2:
                return "order_response.json"
            if method == "PUT" and len(parts) == 3:
                return "order_modify.json"
            if method == "DELETE" and len(parts) == 3:
                return "order_cancel.json"
            if method == "GET" and len(parts) == 2:
                return "order_info.json"
            if method == "GET" and len(parts) == 3 and parts[2] == "trades":
                return "order_trades.json"
        raise web.HTTPNotFound()


@pytest.fixture
async def kite() -> AsyncIterator[KiteStub]:
    stub = KiteStub()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stub.url = f"http://{host}:{port}"
    yield stub
    stub.release.set()
    await runner.cleanup()


class Sleeps:
    """An injected backoff sleep that records and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def client(kite: KiteStub) -> AsyncIterator[KiteRestClient]:
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, sleep=Sleeps()) as c:
        yield c


def sync_kite(kite: KiteStub) -> kiteconnect.KiteConnect:
    return kiteconnect.KiteConnect(API_KEY, access_token=TOKEN, root=kite.url)


def limit_intent(**changes: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "symbol": "NSE:INFY",
        "strategy_code": "s1",
        "side": "BUY",
        "qty": 1,
        "order_type": "LIMIT",
        "price": 1500.5,
        "intent_id": "intent-1",
    }
    fields.update(changes)
    return OrderIntent(**fields)


# -- the wire format, against kiteconnect -------------------------------------------------------

TAG = tag_for("intent-1")
SAME_ORDERS = [
    (
        {},
        {"order_type": "LIMIT", "price": 1500.5, "validity": "DAY"},
    ),
    (
        {"order_type": "MARKET", "price": None, "side": "SELL", "qty": 7},
        {
            "transaction_type": "SELL",
            "quantity": 7,
            "order_type": "MARKET",
            "validity": "DAY",
            "market_protection": -1,
        },
    ),
    (
        {"order_type": "SL-M", "price": None, "trigger_price": 1490.25, "product": "CNC"},
        {
            "product": "CNC",
            "order_type": "SL-M",
            "validity": "DAY",
            "trigger_price": 1490.25,
            "market_protection": -1,
        },
    ),
    (
        {"variety": "iceberg", "qty": 1000, "metadata": {"iceberg_legs": 5}, "validity": "IOC"},
        {"quantity": 1000, "validity": "IOC", "iceberg_legs": 5, "iceberg_quantity": 200, "price": 1500.5},
    ),
]


@pytest.mark.parametrize(("changes", "kite_args"), SAME_ORDERS, ids=["limit", "market", "sl-m", "iceberg"])
async def test_place_order_sends_exactly_what_kiteconnect_sends(
    kite: KiteStub, client: KiteRestClient, changes: dict[str, Any], kite_args: dict[str, Any]
) -> None:
    intent = limit_intent(**changes)
    variety, params = order_params(intent, TAG, market_protection=-1.0)
    args: dict[str, Any] = {
        "variety": variety,
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "quantity": 1,
        "product": "MIS",
        "order_type": "LIMIT",
        "tag": TAG,
    }
    args.update(kite_args)

    ours = await client.place_order(variety, params)
    theirs = await asyncio.wait_for(asyncio.to_thread(sync_kite(kite).place_order, **args), GUARD)

    assert ours == theirs == "151220000000000"
    mine, official = kite.requests
    assert (mine.method, mine.path) == (official.method, official.path) == ("POST", f"/orders/{variety}")
    assert dict(mine.form) == dict(official.form)
    assert mine.form == official.form  # same order too
    for name in ("X-Kite-Version", "Authorization", "Content-Type"):
        assert mine.headers[name] == official.headers[name], name
    assert mine.headers["X-Kite-Version"] == "3"
    assert mine.headers["Authorization"] == f"token {API_KEY}:{TOKEN}"
    assert mine.headers["User-Agent"] == "execsvc/0.1"
    assert mine.query == []


async def test_modify_cancel_and_quote_match_kiteconnect(kite: KiteStub, client: KiteRestClient) -> None:
    sync = sync_kite(kite)
    oid = "151220000000000"
    assert (
        await client.modify_order("regular", oid, modify_params("regular", oid, quantity=2, price=1501))
        == oid
    )
    await asyncio.wait_for(
        asyncio.to_thread(sync.modify_order, variety="regular", order_id=oid, quantity=2, price=1501), GUARD
    )
    assert await client.cancel_order("regular", oid) == oid
    await asyncio.wait_for(asyncio.to_thread(sync.cancel_order, variety="regular", order_id=oid), GUARD)
    await client.cancel_order("co", oid, parent_order_id="99")
    await client.quote("NSE:INFY", "NSE:SBIN")
    await asyncio.wait_for(asyncio.to_thread(sync.quote, "NSE:INFY", "NSE:SBIN"), GUARD)

    put, put_k, delete, delete_k, delete_parent, quote, quote_k = kite.requests
    assert (put.method, put.path) == (put_k.method, put_k.path) == ("PUT", f"/orders/regular/{oid}")
    assert (
        put.form == put_k.form == parse_qsl("variety=regular&order_id=151220000000000&quantity=2&price=1501")
    )
    assert (delete.method, delete.path, delete.query, delete.body) == (
        delete_k.method,
        delete_k.path,
        delete_k.query,
        delete_k.body,
    )
    assert delete.query == [] and delete.body == b""
    assert delete_parent.query == [("parent_order_id", "99")]
    assert quote.path == quote_k.path == "/quote"
    assert quote.query == quote_k.query == [("i", "NSE:INFY"), ("i", "NSE:SBIN")]
    for mine, official in ((put, put_k), (delete, delete_k), (quote, quote_k)):
        assert mine.headers["Authorization"] == official.headers["Authorization"]
        assert mine.headers["X-Kite-Version"] == official.headers["X-Kite-Version"]


async def test_every_read_endpoint_parses_the_mocks(kite: KiteStub, client: KiteRestClient) -> None:
    orders = await client.orders()
    assert len(orders) == 10 and all(isinstance(o, KiteOrder) for o in orders)
    history = await client.order_history("171229000724687")
    assert history[0].status == "PUT ORDER REQ RECEIVED"
    trades = await client.trades()
    assert len(trades) == 4 and all(isinstance(t, KiteTrade) for t in trades)
    assert (await client.order_trades("200000000000000"))[0].trade_id == "10000000"
    positions = await client.positions()
    assert set(positions) == {"net", "day"} and isinstance(positions["day"][0], KitePosition)
    holdings = await client.holdings()
    assert [(h.tradingsymbol, h.quantity) for h in holdings] == [("AARON", 1), ("SBIN", 16)]
    assert set(await client.margins()) == {"equity", "commodity"}
    assert "net" in await client.margins("equity")
    assert (await client.quote("NSE:INFY"))["NSE:INFY"]["instrument_token"] == 408065
    assert (await client.ltp("NSE:INFY"))["NSE:INFY"]["last_price"] == 1074.35
    assert (await client.profile())["user_id"] == "AB1234"
    assert [r.path for r in kite.requests][:4] == [
        "/orders",
        "/orders/171229000724687",
        "/trades",
        "/orders/200000000000000/trades",
    ]
    assert all(r.method == "GET" and r.body == b"" for r in kite.requests)


# -- error envelopes ----------------------------------------------------------------------------


def envelope(error_type: str, message: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "error_type": error_type}


ERRORS = [
    ("json", 400, envelope("InputException", "Invalid `price`."), BrokerRejectError, "InputException"),
    (
        "json",
        403,
        envelope("TokenException", "Incorrect `api_key` or `access_token`."),
        BrokerAuthError,
        None,
    ),
    ("json", 429, envelope("NetworkException", "Too many requests"), BrokerRateLimitError, None),
    ("json", 500, envelope("GeneralException", "Something went wrong"), BrokerUnavailableError, None),
    ("json", 400, envelope("MarginException", "Insufficient funds."), BrokerRejectError, None),
    ("html", 502, "<html><body>502 Bad Gateway</body></html>", BrokerUnavailableError, None),
    ("html", 200, "<html>maintenance</html>", BrokerDataError, None),
    ("raw", 200, b'{"status": "success", "data": ', BrokerDataError, None),
    ("raw", 200, b"[1, 2]", BrokerDataError, None),
    ("json", 200, {"status": "success"}, BrokerDataError, None),
    ("json", 200, {"status": "success", "data": {"order_id": None}}, BrokerDataError, None),
]


@pytest.mark.parametrize(("kind", "status", "payload", "expected", "_"), ERRORS)
async def test_place_order_errors_are_mapped_and_never_retried(
    kite: KiteStub, kind: str, status: int, payload: Any, expected: type[Exception], _: Any
) -> None:
    kite.script("POST", "/orders/regular", (kind, status, payload))
    limiter = RateLimiter(RateLimitConfig(penalty_seconds=2.0))
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, limiter=limiter) as client:
        with pytest.raises(expected) as info:
            await client.place_order(*order_params(limit_intent(), TAG, market_protection=-1))
    assert kite.count("POST", "/orders/regular") == 1
    error = info.value
    if isinstance(error, BrokerError):
        assert error.http_status == status
        if kind == "json" and "error_type" in payload:
            assert error.error_type == payload["error_type"]
            assert (
                str(error)
                == f"Kite POST /orders/regular: HTTP {status} {payload['error_type']}: {payload['message']}"
            )
    if isinstance(error, BrokerUnavailableError):
        assert error.maybe_sent is True
    assert (limiter.closed_for("order") > 1.0) is (status == 429)


async def test_get_is_retried_on_5xx_with_backoff(kite: KiteStub) -> None:
    kite.script(
        "GET", "/orders", ("json", 502, envelope("NetworkException", "OMS down")), ("html", 503, "down")
    )
    sleeps = Sleeps()
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, sleep=sleeps) as client:
        orders = await client.orders()
    assert len(orders) == 10
    assert kite.count("GET", "/orders") == 3
    assert sleeps.calls == [0.25, 0.5]


async def test_get_gives_up_after_its_retries(kite: KiteStub) -> None:
    kite.script("GET", "/trades", *[("json", 500, envelope("GeneralException", "x"))] * 5)
    sleeps = Sleeps()
    async with KiteRestClient(
        api_key=API_KEY, access_token=TOKEN, root=kite.url, sleep=sleeps, get_retries=1
    ) as client:
        with pytest.raises(BrokerUnavailableError):
            await client.trades()
    assert kite.count("GET", "/trades") == 2 and sleeps.calls == [0.25]


@pytest.mark.parametrize("answer", [("json", 400, envelope("InputException", "bad")),
                                    ("json", 403, envelope("TokenException", "expired"))])  # fmt: skip
async def test_get_is_not_retried_on_4xx(kite: KiteStub, answer: tuple[str, int, Any]) -> None:
    kite.script("GET", "/quote", answer)
    limiter = RateLimiter(RateLimitConfig())
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, limiter=limiter) as client:
        with pytest.raises(BrokerError):
            await client.quote("NSE:INFY")
    assert kite.count("GET", "/quote") == 1
    assert limiter.closed_for("quote") == 0
    assert limiter.closed_for("order") == 0


class _FakeTime:
    """A monotonic clock whose sleep advances it (the limiter's wait costs no real time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_get_after_a_429_waits_behind_the_closed_gate_then_retries(kite: KiteStub) -> None:
    kite.script("GET", "/quote", ("json", 429, envelope("NetworkException", "Too many requests")))
    fake = _FakeTime()
    limiter = RateLimiter(RateLimitConfig(penalty_seconds=1.0), clock=fake, sleep=fake.sleep)
    async with KiteRestClient(
        api_key=API_KEY, access_token=TOKEN, root=kite.url, limiter=limiter, sleep=fake.sleep
    ) as client:
        await client.quote("NSE:INFY")
    assert kite.count("GET", "/quote") == 2
    # the retry waited for the penalty: not a tight loop
    assert sum(fake.slept) >= 1.0
    assert limiter.closed_for("order") == 0


@pytest.mark.parametrize("answer", [("json", 503, envelope("NetworkException", "x")), ("drop", 0, None)])
async def test_post_put_delete_are_never_retried(
    kite: KiteStub, client: KiteRestClient, answer: tuple[str, int, Any]
) -> None:
    for method, path in (
        ("POST", "/orders/regular"),
        ("PUT", "/orders/regular/1"),
        ("DELETE", "/orders/regular/1"),
    ):
        kite.script(method, path, answer, answer)
    with pytest.raises(BrokerUnavailableError) as placed:
        await client.place_order("regular", {"variety": "regular"})
    with pytest.raises(BrokerUnavailableError) as modified:
        await client.modify_order("regular", "1", modify_params("regular", "1", quantity=2))
    with pytest.raises(BrokerUnavailableError) as cancelled:
        await client.cancel_order("regular", "1")
    assert [(r.method, r.path) for r in kite.requests] == [
        ("POST", "/orders/regular"),
        ("PUT", "/orders/regular/1"),
        ("DELETE", "/orders/regular/1"),
    ]
    assert all(e.value.maybe_sent for e in (placed, modified, cancelled))


# -- network failures ---------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_was_not_sent() -> None:
    sleeps = Sleeps()
    root = f"http://127.0.0.1:{closed_port()}"
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=root, sleep=sleeps) as client:
        with pytest.raises(BrokerUnavailableError) as placed:
            await client.place_order("regular", {"variety": "regular"})
        with pytest.raises(BrokerUnavailableError) as listed:
            await client.orders()
    assert placed.value.maybe_sent is False and listed.value.maybe_sent is False
    assert isinstance(placed.value.__cause__, aiohttp.ClientConnectorError)
    assert "was not sent" in str(placed.value)
    assert sleeps.calls == [0.25, 0.5]  # a GET is retried even so


async def test_dropped_connection_after_sending_may_have_been_sent(
    kite: KiteStub, client: KiteRestClient
) -> None:
    kite.script("POST", "/orders/regular", ("drop", 0, None))
    with pytest.raises(BrokerUnavailableError) as info:
        await client.place_order("regular", {"variety": "regular", "tag": "t1"})
    assert info.value.maybe_sent is True
    assert isinstance(info.value.__cause__, aiohttp.ServerDisconnectedError)
    assert kite.requests[0].form == [("variety", "regular"), ("tag", "t1")]  # it did arrive


async def test_slow_answer_times_out_as_maybe_sent(kite: KiteStub) -> None:
    kite.script("POST", "/orders/regular", ("hang", 0, None))
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, timeout=0.2) as client:
        with pytest.raises(BrokerUnavailableError) as info:
            await asyncio.wait_for(client.place_order("regular", {"variety": "regular"}), GUARD)
    assert info.value.maybe_sent is True
    assert isinstance(info.value.__cause__, TimeoutError)
    assert "no response within 0.2s" in str(info.value)


# -- limiter, session, secrets ------------------------------------------------------------------


async def test_calls_go_through_the_limiter(kite: KiteStub) -> None:
    limiter = RateLimiter(RateLimitConfig(modifications_per_order=2))
    async with KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, limiter=limiter) as client:
        await client.place_order("regular", {"variety": "regular"})
        await client.cancel_order("regular", "1")
        await client.ltp("NSE:INFY")
        await client.orders()
        await client.holdings()
        for _ in range(2):
            await client.modify_order("regular", "7", {"variety": "regular", "order_id": "7"})
        with pytest.raises(BrokerRejectError, match="order 7"):
            await client.modify_order("regular", "7", {"variety": "regular", "order_id": "7"})
    assert limiter.acquired == {"order": 4, "quote": 1, "other": 2}
    assert limiter.placements_today == 1
    assert kite.count("PUT", "/orders/regular/7") == 2  # the third was refused before sending


async def test_session_ownership(kite: KiteStub) -> None:
    client = KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url)
    with pytest.raises(ServiceNotRunningError):
        await client.orders()
    async with aiohttp.ClientSession() as session:
        async with KiteRestClient(
            api_key=API_KEY, access_token=TOKEN, root=kite.url, session=session
        ) as shared:
            await shared.profile()
        assert not session.closed  # given, so not ours to close
    await client.start()
    owned = client._session
    await client.close()
    assert owned is not None and owned.closed


async def test_the_token_never_shows(kite: KiteStub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoing = b'{"status": "error", "token": "' + TOKEN.encode() + b'"'  # invalid JSON echoing the token
    kite.script(
        "POST", "/orders/regular", ("json", 400, envelope("InputException", "bad")), ("raw", 200, echoing)
    )
    kite.script("POST", "/orders/regular", ("drop", 0, None), ("hang", 0, None), ("html", 502, "<b>bad</b>"))
    kite.script("GET", "/orders", *[("json", 503, envelope("NetworkException", "x"))] * 3)
    kite.script("GET", "/quote", *[("json", 429, envelope("NetworkException", "Too many requests"))] * 3)
    kite.script("GET", "/user/profile", ("json", 403, envelope("TokenException", "expired")))
    errors: list[BaseException] = []
    client = KiteRestClient(api_key=API_KEY, access_token=TOKEN, root=kite.url, timeout=0.2, sleep=Sleeps())
    async with client:
        for call in [lambda: client.place_order("regular", {"variety": "regular"})] * 5 + [
            client.orders,
            lambda: client.quote("NSE:INFY"),
            client.profile,
        ]:
            with pytest.raises((BrokerError, BrokerDataError)) as info:
                await asyncio.wait_for(call(), GUARD)
            errors.append(info.value)
        async with KiteRestClient(
            api_key=API_KEY, access_token=TOKEN, root=f"http://127.0.0.1:{closed_port()}"
        ) as c:
            with pytest.raises(BrokerUnavailableError) as refused:
                await c.place_order("regular", {})
            errors.append(refused.value)
    assert isinstance(errors[1], BrokerDataError) and "***" in str(errors[1])  # the echo, redacted
    assert len(kite.requests) >= 10 and caplog.records
    texts = [repr(client), str(client), repr(client._token), str(Secret(TOKEN)), caplog.text]
    texts += [f"{e!s} {e!r} {e.__cause__!s}" for e in errors]
    for text in texts:
        assert TOKEN not in text
    assert "***" in repr(client) and str(Secret(TOKEN)) == "***"
    assert any(r.headers["Authorization"].endswith(TOKEN) for r in kite.requests)  # it was sent, though
