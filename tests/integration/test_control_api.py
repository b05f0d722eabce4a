"""The control API over a real loopback server and a real paper service (replay clock, temp journal)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import math
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock
from execsvc.control import ControlServer, check_bind, load_control_token, start_control
from execsvc.control.keys import SSE_HUB
from execsvc.control.sse import SseClient
from execsvc.errors import ConfigError
from execsvc.metrics import ServiceMetrics
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick

TOKEN = "s3cret-control-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT = 10.0  # hang guard only


@dataclass
class Stack:
    svc: ExecutionService
    metrics: ServiceMetrics
    server: ControlServer
    http: aiohttp.ClientSession
    journal_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    async def post(self, path: str, body: Any, **kw: Any) -> tuple[int, Any, bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = kw.pop("headers", AUTH)
        async with self.http.post(self.url + path, data=data, headers=headers, **kw) as resp:
            raw = await resp.read()
            return resp.status, _json_or_none(raw), raw

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        async with self.http.get(self.url + path, headers=AUTH if headers is None else headers) as resp:
            raw = await resp.read()
            return resp.status, _json_or_none(raw), raw


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def intent(intent_id: str = "", qty: int = 10, side: str = "BUY", **kw: Any) -> dict[str, Any]:
    body = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": side, "qty": qty, **kw}
    if intent_id:
        body["intent_id"] = intent_id
    return body


def journal_events(journal_dir: Path) -> list[dict[str, Any]]:
    path = journal_dir / f"{DAY.isoformat()}.jsonl"
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


@pytest.fixture
async def stack(journal_dir: Path, clock: ReplayClock) -> AsyncIterator[Stack]:
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    await svc.start()
    metrics = ServiceMetrics(svc)
    server = await start_control(svc, port=0, token=TOKEN, metrics=metrics)
    http = aiohttp.ClientSession()
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        yield Stack(svc, metrics, server, http, journal_dir)
    finally:
        await http.close()
        await server.stop()
        metrics.close()
        await svc.stop()
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, f"tasks outlived the control API: {leftovers}"


# -- authentication and binding -------------------------------------------------------------------

GUARDED = [
    ("GET", "/", None),
    ("GET", "/ready", None),
    ("GET", "/status", None),
    ("GET", "/positions", None),
    ("GET", "/orders", None),
    ("GET", "/results", None),
    ("GET", "/journal", None),
    ("GET", "/metrics", None),
    ("GET", "/events", None),
    ("POST", "/intents", intent("auth-1")),
    ("POST", "/halt", {"reason": "auth test"}),
    ("POST", "/resume", {"reason": "auth test"}),
    ("POST", "/breakers/reset", {"reason": "auth test"}),
    ("POST", "/square-off", {"strategy": None, "reason": "auth test"}),
]


async def test_health_needs_no_token(stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, AUTH):
        status, body, _ = await stack.get("/health", headers=headers)
        assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
async def test_every_other_endpoint_needs_the_token(stack: Stack, method: str, path: str, body: Any) -> None:
    data = json.dumps(body).encode() if body is not None else None
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        async with stack.http.request(method, stack.url + path, data=data, headers=headers) as resp:
            assert resp.status == 401, headers
            assert await resp.json() == {"error": "unauthorized"}
    async with stack.http.request(method, stack.url + path, data=data, headers=AUTH) as resp:
        assert resp.status == 200


async def test_page_takes_the_token_from_the_query_only(stack: Stack) -> None:
    assert (await stack.get(f"/?token={TOKEN}", headers={}))[0] == 200
    assert (await stack.get("/?token=wrong", headers={}))[0] == 401
    assert (await stack.get(f"/status?token={TOKEN}", headers={}))[0] == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com", ""])
def test_check_bind_refuses_a_public_host_without_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="token"):
        check_bind(host, None)
    check_bind(host, TOKEN)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"])
def test_check_bind_allows_loopback_without_a_token(host: str) -> None:
    check_bind(host, None)


def test_load_control_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_CONTROL_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    token_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"token.*0644") as info:
        load_control_token("TEST_CONTROL_TOKEN", str(token_file))
    assert str(token_file) in str(info.value)
    token_file.chmod(0o600)
    assert load_control_token("TEST_CONTROL_TOKEN", str(token_file)) == "from-file"
    monkeypatch.setenv("TEST_CONTROL_TOKEN", "from-env")
    assert load_control_token("TEST_CONTROL_TOKEN", str(token_file)) == "from-env"
    monkeypatch.delenv("TEST_CONTROL_TOKEN")
    assert load_control_token("TEST_CONTROL_TOKEN") is None


async def test_start_control_refuses_a_public_bind_without_a_token(stack: Stack) -> None:
    with pytest.raises(ConfigError):
        await start_control(stack.svc, host="0.0.0.0", port=0, token=None, metrics=stack.metrics)


# -- intents ----------------------------------------------------------------------------------------


async def test_post_intent_fills(stack: Stack) -> None:
    status, body, _ = await stack.post("/intents", intent("happy-1"))
    assert status == 200
    assert body["type"] == "result"
    assert (body["intent_id"], body["status"], body["filled_qty"], body["avg_price"]) == (
        "happy-1",
        "FILLED",
        10,
        1500.75,
    )


async def test_post_intent_without_an_id_gets_one(stack: Stack) -> None:
    status, body, _ = await stack.post("/intents", intent())
    assert status == 200 and body["status"] == "FILLED" and body["intent_id"].startswith("s1-")


@pytest.mark.parametrize(
    ("payload", "field", "value"),
    [
        (intent("bad-1", qty="ten"), "qty", "ten"),  # type: ignore[arg-type]
        (intent("bad-2", side="HOLD"), "side", "HOLD"),
        (intent("bad-3", price="cheap", order_type="LIMIT"), "price", "cheap"),
        ({"symbol": "NSE:INFY", "side": "BUY", "qty": 1}, "strategy_code", None),
        (b'{"symbol": "NSE:INFY", "qty": ', "body", None),
        (b"[1, 2]", "body", None),
    ],
)
async def test_bad_intent_bodies_name_the_field(stack: Stack, payload: Any, field: str, value: Any) -> None:
    status, body, _ = await stack.post("/intents", payload)
    assert status == 400
    errors = {e["field"]: e for e in body["errors"]}
    assert field in errors, body
    assert errors[field]["value"] == value
    assert errors[field]["reason"]


async def test_validation_rejects_are_400_with_the_journaled_result(stack: Stack) -> None:
    status, body, _ = await stack.post("/intents", intent("bad-side", side="HOLD"))
    assert status == 400
    assert body["result"]["status"] == "REJECTED" and body["result"]["reject_reason"] == "validation"
    assert stack.svc.engine.state.first_results["bad-side"].reject_reason == "validation"


async def test_a_body_over_64_kib_is_413(stack: Stack) -> None:
    big = intent("big-1", reason="x" * (70 * 1024))
    status, body, _ = await stack.post("/intents", big)
    assert status == 413 and body["error"]
    assert "big-1" not in stack.svc.engine.state.first_results


async def test_repeated_post_gets_the_same_body_and_one_order(stack: Stack) -> None:
    first = await stack.post("/intents", intent("dup-1"))
    second = await stack.post("/intents", intent("dup-1"))
    assert first[0] == second[0] == 200
    assert first[2] == second[2]
    orders = [r for r in stack.svc.engine.state.orders.values() if r.order.intent_id == "dup-1"]
    assert len(orders) == 1


# -- operator actions ---------------------------------------------------------------------------------


async def test_halt_rejects_intents_and_resume_lifts_it_both_journaled(stack: Stack) -> None:
    status, body, _ = await stack.post("/halt", {"reason": "fat finger", "by": "ops-anna"})
    assert status == 200 and body["halted"] is True
    _, refused, _ = await stack.post("/intents", intent("while-halted"))
    assert (refused["status"], refused["reject_reason"]) == ("REJECTED", "breaker:halted")
    status, body, _ = await stack.post("/resume", {"reason": "checked"})
    assert status == 200 and body["halted"] is False
    _, filled, _ = await stack.post("/intents", intent("after-resume"))
    assert filled["status"] == "FILLED"

    events = journal_events(stack.journal_dir)
    halted = [e for e in events if e["type"] == "halted"]
    resumed = [e for e in events if e["type"] == "resumed"]
    assert [(e["by"], e["reason"]) for e in halted] == [("ops-anna", "fat finger")]
    assert [(e["by"], e["reason"]) for e in resumed] == [("control-api", "checked")]


@pytest.mark.parametrize("path", ["/halt", "/resume", "/breakers/reset", "/square-off"])
@pytest.mark.parametrize("payload", [{}, {"reason": "  "}, {"reason": 5}, b"not json"])
async def test_operator_actions_need_a_reason(stack: Stack, path: str, payload: Any) -> None:
    status, body, _ = await stack.post(path, payload)
    assert status == 400
    assert body["errors"][0]["field"] in ("reason", "body")
    assert not stack.svc.halted


async def test_reset_breakers_is_journaled(stack: Stack) -> None:
    status, _, _ = await stack.post("/breakers/reset", {"reason": "new limits", "by": "risk"})
    assert status == 200
    resets = [e for e in journal_events(stack.journal_dir) if e["type"] == "breakers_reset"]
    assert [(e["by"], e["reason"]) for e in resets] == [("risk", "new limits")]


async def test_square_off_closes_positions(stack: Stack) -> None:
    await stack.post("/intents", intent("open-1", product="MIS"))
    status, body, _ = await stack.post("/square-off", {"strategy": "s1", "reason": "eod"})
    assert status == 200
    assert [(r["side"], r["qty"], r["status"]) for r in body["results"]] == [("SELL", 10, "FILLED")]
    assert all(p.net_qty == 0 for p in stack.svc.positions())


async def test_square_off_is_501_without_service_support(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.svc, "square_off", None)
    status, body, _ = await stack.post("/square-off", {"strategy": None, "reason": "eod"})
    assert status == 501 and body["error"]


async def test_square_off_calls_the_service_with_by_and_reason(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str | None, str, str]] = []

    async def fake(strategy: str | None, *, reason: str, by: str) -> list[Any]:
        calls.append((strategy, reason, by))
        return []

    monkeypatch.setattr(stack.svc, "square_off", fake)
    status, body, _ = await stack.post("/square-off", {"strategy": None, "reason": "eod"})
    assert (status, body["results"], calls) == (200, [], [(None, "eod", "control-api")])


# -- reads --------------------------------------------------------------------------------------------


async def test_status_positions_orders_and_ready(stack: Stack) -> None:
    await stack.post("/intents", intent("read-1"))
    status, body, _ = await stack.get("/status")
    assert status == 200
    assert (body["mode"], body["halted"], body["accepting"]) == ("paper", False, True)
    assert body["counters"]["status_counts"] == {"FILLED": 1}
    assert body["counters"]["fills"] == 1
    assert {s["name"] for s in body["bus"]} >= {"engine", "metrics", "control-sse"}
    assert body["journal"]["path"].endswith(f"{DAY.isoformat()}.jsonl") and body["journal"]["next_seq"] > 0
    assert body["breakers"]["trades_today"] == 1

    _, positions, _ = await stack.get("/positions")
    assert [(p["symbol"], p["net_qty"], p["last_price"]) for p in positions] == [("NSE:INFY", 10, 1500.0)]
    assert positions[0]["unrealized"] == pytest.approx((1500.0 - 1500.75) * 10)

    _, orders, _ = await stack.get("/orders")
    assert [
        (o["intent_id"], o["side"], o["qty"], o["filled_qty"], o["working"], o["status"]) for o in orders
    ] == [("read-1", "BUY", 10, 10, False, "FILLED")]
    assert (await stack.get("/ready"))[0] == 200


async def test_ready_is_503_once_the_service_stops(stack: Stack) -> None:
    await stack.svc.stop()
    status, body, _ = await stack.get("/ready")
    assert (status, body["ready"]) == (503, False)
    status, body, _ = await stack.post("/intents", intent("too-late"))
    assert status == 503 and body["error"] == "service not running"


async def test_journal_since(stack: Stack) -> None:
    await stack.post("/intents", intent("j-1"))
    status, records, _ = await stack.get("/journal")
    assert status == 200
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(len(seqs))) and records[0]["ev"]["type"] == "journal_opened"
    last = seqs[-1]
    _, tail, _ = await stack.get(f"/journal?since={last - 2}")
    assert [r["seq"] for r in tail] == [last - 1, last]
    _, limited, _ = await stack.get("/journal?since=0&limit=1")
    assert [r["seq"] for r in limited] == [1]
    for query, name, value in (("since=abc", "since", "abc"), ("limit=0", "limit", "0")):
        status, body, _ = await stack.get(f"/journal?{query}")
        assert status == 400
        assert body["errors"][0]["field"] == name and body["errors"][0]["value"] == value


@pytest.mark.parametrize(
    ("query", "name", "value", "reason"),
    [
        ("limit=0", "limit", "0", "must be between 1 and 10000"),
        ("limit=-3", "limit", "-3", "must be between 1 and 10000"),
        ("limit=10001", "limit", "10001", "must be between 1 and 10000"),
        ("limit=ten", "limit", "ten", "must be an integer"),
        ("limit=1.5", "limit", "1.5", "must be an integer"),
        ("since=-2", "since", "-2", f"must be between -1 and {2**63 - 1}"),
        ("since=1e3", "since", "1e3", "must be an integer"),
    ],
)
async def test_journal_refuses_a_limit_or_since_out_of_bounds_naming_it(
    stack: Stack, query: str, name: str, value: str, reason: str
) -> None:
    status, body, _ = await stack.get(f"/journal?{query}")
    assert status == 400
    assert body["errors"] == [{"field": name, "value": value, "reason": reason}]


async def test_journal_takes_the_largest_limit(stack: Stack) -> None:
    await stack.post("/intents", intent("lim-1"))
    status, everything, _ = await stack.get("/journal?limit=10000")
    assert status == 200 and len(everything) > 1
    assert [r["seq"] for r in everything] == list(range(len(everything)))


async def test_journal_names_its_day_and_reads_an_earlier_one(stack: Stack) -> None:
    """A poller holding yesterday's ``since`` learns the day changed (seqs restart at 0 each day)."""
    await stack.post("/intents", intent("d-1"))
    async with stack.http.get(stack.url + "/journal", headers=AUTH) as resp:
        first_day = resp.headers["X-Journal-Day"]
        yesterday = [r["seq"] for r in await resp.json()]
    assert first_day == DAY.isoformat()
    await stack.svc.on_tick(tick("NSE:INFY", 1501.0, OPEN_NS + 24 * 3600 * SECOND))  # the next day
    async with stack.http.get(stack.url + f"/journal?since={yesterday[-1]}", headers=AUTH) as resp:
        assert resp.headers["X-Journal-Day"] == (DAY + dt.timedelta(days=1)).isoformat() != first_day
    async with stack.http.get(stack.url + f"/journal?day={first_day}&since=-1", headers=AUTH) as resp:
        assert resp.headers["X-Journal-Day"] == first_day
        assert [r["seq"] for r in await resp.json()][: len(yesterday)] == yesterday
    for bad in ("2026-02-30", "../etc", "20261120"):
        status, body, _ = await stack.get(f"/journal?day={bad}")
        assert status == 400 and body["errors"][0] == {
            "field": "day",
            "value": bad,
            "reason": "must be a date, YYYY-MM-DD",
        }


async def test_errors_are_json_without_tracebacks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body, _ = await stack.get("/nope")
    assert (status, body) == (404, {"error": "not found"})
    async with stack.http.get(stack.url + "/intents", headers=AUTH) as resp:
        assert resp.status == 405 and "POST" in resp.headers["Allow"]
        assert (await resp.json())["error"] == "method not allowed"

    def boom() -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(stack.svc, "breaker_status", boom)
    status, body, raw = await stack.get("/status")
    assert (status, body) == (500, {"error": "internal error"})
    assert b"Traceback" not in raw and b"secret" not in raw


# -- metrics ------------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_prometheus(text: str) -> dict[str, dict[str, Any]]:
    """A strict reader of the text format 0.0.4: HELP, then TYPE, then that family's samples."""
    assert text.endswith("\n")
    families: dict[str, dict[str, Any]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert name not in families, f"duplicate family {name}"
            families[name] = {"help": doc, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name == current and kind in ("counter", "gauge", "histogram", "summary", "untyped")
            families[name]["type"] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"bad sample line {line!r}"
            family = families[current]
            suffixes = ("_bucket", "_sum", "_count") if family["type"] == "histogram" else ("",)
            assert match["name"] in {current + s for s in suffixes}, line
            labels: dict[str, str] = {}
            if match["labels"]:
                pos = 0
                for m in _LABEL.finditer(match["labels"]):
                    assert m.start() == pos, line
                    labels[m[1]] = m[2]
                    pos = m.end() + 1
                assert pos == len(match["labels"]) + 1, line
            value = float(match["value"])  # accepts +Inf and NaN
            family["samples"].append((match["name"], labels, value))
    assert all(f["type"] for f in families.values())
    return families


async def test_metrics_render_prometheus_text(stack: Stack) -> None:
    await stack.post("/intents", intent("m-1"))
    await stack.post("/intents", intent("m-2", side="HOLD"))
    await stack.post("/halt", {"reason": "metrics"})
    await stack.post("/intents", intent("m-3"))
    await stack.svc.bus.drain()  # the metrics subscriber has seen every result
    stack.metrics.observe_broker_rtt(0.042)

    async with stack.http.get(stack.url + "/metrics", headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        families = parse_prometheus(await resp.text())

    assert all(name.startswith("execsvc_") for name in families)
    results = {s[1]["status"]: s[2] for s in families["execsvc_results_total"]["samples"]}
    assert results == {"FILLED": 1, "REJECTED": 2}
    rejects = {s[1]["reason"]: s[2] for s in families["execsvc_rejects_total"]["samples"]}
    assert rejects == {"validation": 1, "breaker:halted": 1}
    assert families["execsvc_intents_total"]["samples"] == [("execsvc_intents_total", {}, 3)]
    assert families["execsvc_halted"]["samples"][0][2] == 1
    assert families["execsvc_fills_total"]["samples"][0][2] == 1
    depth = {s[1]["subscription"] for s in families["execsvc_bus_queue_depth"]["samples"]}
    assert {"engine", "metrics", "control-sse"} <= depth

    for name, count in (("execsvc_intent_latency_seconds", 3), ("execsvc_broker_rtt_seconds", 1)):
        family = families[name]
        assert family["type"] == "histogram"
        buckets = [(float(s[1]["le"]), s[2]) for s in family["samples"] if s[0] == name + "_bucket"]
        assert buckets[-1][0] == math.inf and buckets[0][0] == pytest.approx(1e-5)
        assert [le for le, _ in buckets] == sorted(le for le, _ in buckets)
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
        total = dict((s[0], s[2]) for s in family["samples"])
        assert buckets[-1][1] == total[name + "_count"] == count
    rtt = {float(s[1]["le"]): s[2] for s in families["execsvc_broker_rtt_seconds"]["samples"] if s[1]}
    assert (rtt[0.025], rtt[0.05]) == (0, 1)


# -- events -------------------------------------------------------------------------------------------


async def read_frame(resp: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    event, data = "message", []
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if not line:
            if data:
                return event, json.loads("\n".join(data))
            continue
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


async def test_events_stream_results(stack: Stack) -> None:
    async with stack.http.get(stack.url + "/events", headers=AUTH) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        event, snapshot = await asyncio.wait_for(read_frame(resp), WAIT)
        assert event == "status" and snapshot["mode"] == "paper"

        await stack.post("/intents", intent("sse-1"))

        while True:
            event, data = await asyncio.wait_for(read_frame(resp), WAIT)
            if event == "result" and data["intent_id"] == "sse-1":
                break
        assert data["status"] == "FILLED"


async def test_a_client_that_goes_away_is_forgotten(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = stack.server.app[SSE_HUB]
    hub.status_interval = 0.05  # the next status write finds the closed connection
    gone = asyncio.Event()
    disconnect = hub.disconnect

    def disconnected(client: SseClient) -> None:
        disconnect(client)
        gone.set()

    monkeypatch.setattr(hub, "disconnect", disconnected)
    async with stack.http.get(stack.url + "/events", headers=AUTH) as resp:
        await asyncio.wait_for(read_frame(resp), WAIT)
        assert len(hub.clients) == 1
        resp.close()
    await asyncio.wait_for(gone.wait(), WAIT)
    assert hub.clients == set()


async def test_stopping_the_server_ends_open_streams(stack: Stack) -> None:
    async with stack.http.get(stack.url + "/events", headers=AUTH) as resp:
        await asyncio.wait_for(read_frame(resp), WAIT)
        await asyncio.wait_for(stack.server.stop(), WAIT)
        rest = await asyncio.wait_for(resp.content.read(), WAIT)
    assert b"event: result" not in rest


async def test_the_page_has_no_external_references(stack: Stack) -> None:
    async with stack.http.get(stack.url + "/", headers=AUTH) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        page = await resp.text()
    assert "<script>" in page and "/events" in page
    assert not re.search(r"https?://", page)


# -- load -----------------------------------------------------------------------------------------------


async def test_load_two_thousand_posts_from_twenty_clients(stack: Stack) -> None:
    unique, repeats, clients = 1_800, 200, 20
    ids = [f"load-{n:05d}" for n in range(unique)]
    work = [(i, intent(i, qty=1, side="BUY" if n % 2 else "SELL")) for n, i in enumerate(ids)]
    work += [work[n * (unique // repeats)] for n in range(repeats)]
    # spread each repeat away from its first send so some race and some come after
    work = work[::2] + work[1::2]
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    bodies: dict[str, set[bytes]] = {}
    latencies: list[float] = []

    async def client() -> None:
        async with aiohttp.ClientSession(headers=AUTH) as http:
            while not queue.empty():
                intent_id, payload = queue.get_nowait()
                started = time.perf_counter()
                async with http.post(stack.url + "/intents", json=payload) as resp:
                    raw = await resp.read()
                    assert resp.status == 200, raw
                latencies.append(time.perf_counter() - started)
                bodies.setdefault(intent_id, set()).add(raw)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), 60)
    elapsed = time.perf_counter() - started

    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"\ncontrol API load: {len(work)} POST /intents from {clients} clients in {elapsed:.2f}s = "
        f"{len(work) / elapsed:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    assert len(latencies) == len(work) == unique + repeats
    assert all(len(b) == 1 for b in bodies.values()), "a repeated intent got a different body"
    per_intent = Counter(r.order.intent_id for r in stack.svc.engine.state.orders.values())
    assert set(per_intent) == set(ids) and set(per_intent.values()) == {1}
    assert all(json.loads(next(iter(b)))["status"] == "FILLED" for b in bodies.values())
