"""A small loopback Kite REST server whose answers a test can make hostile, and helpers around it.

``HostileKite`` keeps an order book and a trade list in plain dicts (a test edits them directly to
stage what a misbehaving broker shows) and lets a test hook any request by method and path prefix.
Every request is counted; :meth:`HostileKite.seen` waits, without sleeping, until the service has
made a request (for example a later order-book poll), which is how a test knows the service had its
chance to act on what was staged.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.config import LOSS_COUNT_AND_RATE_BREAKERS, Config, config_from_dict

REPO = Path(__file__).resolve().parents[1]
API_KEY = "testkey"
TOKEN = "SEKRETtok3nXYZ987"

Hook = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse | None]]


def envelope(status: int, body: Any, content_type: str = "application/json") -> web.Response:
    """A response with ``body`` (JSON-encoded unless bytes) and the given status and content type."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return web.Response(status=status, body=raw, headers={"Content-Type": content_type})


def ok(data: Any) -> web.Response:
    return envelope(200, {"status": "success", "data": data})


def kite_error(status: int, error_type: str, message: str) -> web.Response:
    """Kite's error envelope; a 503 NetworkException is a lost answer (the request may have taken)."""
    return envelope(status, {"status": "error", "message": message, "error_type": error_type})


class HostileKite:
    """The fake broker; ``async with HostileKite() as kite`` serves it on 127.0.0.1 (a free port)."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.posts: Counter[str] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.hooks: dict[str, Hook] = {}
        self.fill_market = True
        self._ids = itertools.count(250000000000001)
        self._tids = itertools.count(9000001)
        self._changed = asyncio.Condition()
        self.url = ""

    def new_order(self, form: dict[str, str]) -> dict[str, Any]:
        oid = str(next(self._ids))
        qty = int(form["quantity"])
        order = {
            "order_id": oid,
            "status": "OPEN",
            "tag": form.get("tag"),
            "tags": [form.get("tag")],
            "exchange": form["exchange"],
            "tradingsymbol": form["tradingsymbol"],
            "transaction_type": form["transaction_type"],
            "quantity": qty,
            "product": form["product"],
            "order_type": form["order_type"],
            "validity": form.get("validity", "DAY"),
            "price": float(form.get("price", 0) or 0),
            "trigger_price": 0,
            "filled_quantity": 0,
            "pending_quantity": qty,
            "average_price": 0,
            "variety": "regular",
            "order_timestamp": "2026-11-20 10:00:00",
        }
        self.orders[oid] = order
        if self.fill_market and form["order_type"] == "MARKET":
            self.fill(oid, qty, 1500.0)
        return order

    def fill(self, oid: str, qty: int, price: float, **trade: Any) -> None:
        """Fill ``qty`` of order ``oid``; ``trade`` overrides fields of the trade row."""
        order = self.orders[oid]
        order["filled_quantity"] += qty
        order["pending_quantity"] = order["quantity"] - order["filled_quantity"]
        order["average_price"] = price
        if order["filled_quantity"] >= order["quantity"]:
            order["status"] = "COMPLETE"
        row = {
            "trade_id": str(next(self._tids)),
            "order_id": oid,
            "quantity": qty,
            "average_price": price,
            "exchange": order["exchange"],
            "tradingsymbol": order["tradingsymbol"],
            "product": order["product"],
            "transaction_type": order["transaction_type"],
        }
        self.trades.append({**row, **trade})

    async def seen(self, method: str, path: str, more: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``more`` further requests ``method path`` arrived (the timeout is a hang guard)."""
        target = self.calls[(method, path)] + more
        await self.until(lambda: self.calls[(method, path)] >= target, timeout)

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition`` (of ``calls``) holds after a request (the timeout is a hang guard)."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(wait(), timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._answer(request)
        finally:
            async with self._changed:
                self.calls[(request.method, request.path)] += 1
                self._changed.notify_all()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        m, path = request.method, request.path
        form = {k: str(v) for k, v in (await request.post()).items()} if m in ("POST", "PUT") else {}
        if m == "POST" and path.startswith("/orders/"):
            self.posts[form.get("tag", "")] += 1
        for key, hook in list(self.hooks.items()):
            km, _, kp = key.partition(" ")
            if km == m and (path == kp or (kp.endswith("*") and path.startswith(kp[:-1]))):
                answer = await hook(request, form)
                if answer is not None:
                    return answer
        parts = [p for p in path.split("/") if p]
        if m == "POST" and parts[0] == "orders":
            return ok({"order_id": self.new_order(form)["order_id"]})
        if m == "DELETE" and parts[0] == "orders":
            self.orders[parts[2]]["status"] = "CANCELLED"
            return ok({"order_id": parts[2]})
        if m == "GET" and path == "/orders":
            return ok(list(self.orders.values()))
        if m == "GET" and path == "/trades":
            return ok(self.trades)
        if m == "GET" and path == "/portfolio/positions":
            return ok({"net": [], "day": []})
        if m == "GET" and parts[0] == "orders" and len(parts) == 3 and parts[2] == "trades":
            return ok([t for t in self.trades if t.get("order_id") == parts[1]])
        if m == "GET" and parts[0] == "orders" and len(parts) == 2:
            return ok([self.orders[parts[1]]])
        return web.Response(status=404, text="nope")

    async def __aenter__(self) -> HostileKite:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def hostile_config(journal_dir: Path, url: str, **kite: Any) -> Config:
    """A live config against ``url`` with fast unknown-outcome checks and polling."""
    return config_from_dict(
        {
            "mode": "live",
            "journal": {"dir": str(journal_dir), "fsync": "batch"},
            "market": {"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
            "execution": {"circuit_breakers": dict.fromkeys(LOSS_COUNT_AND_RATE_BREAKERS)},
            "kite": {
                "api_key": API_KEY,
                "root": url,
                "ws_root": url.replace("http", "ws"),
                "timeout_seconds": 1.0,
                "unknown_check_delays": [0.02, 0.05, 0.1],
                "unknown_give_up_seconds": 1.0,
                "poll_interval_seconds": 0.05,
                **kite,
            },
        }
    )


def buy(intent_id: str, qty: int = 5, **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="adv", side="BUY", qty=qty, intent_id=intent_id, **kw)


class Results:
    """Every result the service publishes, with a way to wait for one (no sleeping)."""

    def __init__(self, svc: ExecutionService) -> None:
        self.results: list[ExecutionResult] = []
        self._changed = asyncio.Event()
        svc.on_result(self._on_result, name="test-results")

    def _on_result(self, result: ExecutionResult) -> None:
        self.results.append(result)
        self._changed.set()

    async def until(
        self, intent_id: str, check: Callable[[ExecutionResult], bool], timeout: float = 5.0
    ) -> ExecutionResult:
        """The first result of ``intent_id`` for which ``check`` holds."""

        async def find() -> ExecutionResult:
            while True:
                for r in self.results:
                    if r.intent_id == intent_id and check(r):
                        return r
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)
