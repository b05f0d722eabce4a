"""Hostile input over the control API and the library: refused with 400 naming the field, nothing done.

A real loopback server and a real paper service (replay clock, temp journal), as in
``test_control_api.py``; every case came from a tester's reproduction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock
from execsvc.control import ControlServer, start_control
from execsvc.events import OrderIntent
from execsvc.metrics import ServiceMetrics
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick

TOKEN = "s3cret-control-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTENT = b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY",'
"""The start of an intent body; each case closes it."""


@dataclass
class Stack:
    svc: ExecutionService
    server: ControlServer
    http: aiohttp.ClientSession
    journal_dir: Path

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.server.url + path, data=data, headers=AUTH) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw

    def journal(self) -> list[dict[str, Any]]:
        path = self.journal_dir / f"{DAY.isoformat()}.jsonl"
        return [json.loads(line)["ev"] for line in path.read_text().splitlines()]

    def placed(self) -> list[dict[str, Any]]:
        return [e for e in self.journal() if e["type"] in ("order_accepted", "fill")]


@pytest.fixture
async def stack(journal_dir: Path, clock: ReplayClock) -> AsyncIterator[Stack]:
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    await svc.start()
    metrics = ServiceMetrics(svc)
    server = await start_control(svc, port=0, token=TOKEN, metrics=metrics)
    http = aiohttp.ClientSession()
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        yield Stack(svc, server, http, journal_dir)
    finally:
        await http.close()
        await server.stop()
        metrics.close()
        await svc.stop()
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, f"tasks outlived the control API: {leftovers}"


def _fields(body: Any) -> dict[str, dict[str, Any]]:
    assert isinstance(body, dict) and "errors" in body, body
    return {e["field"]: e for e in body["errors"]}


# -- ts_init: an invalid value is refused with or without an intent id ----------------------------------


@pytest.mark.parametrize("intent_id", ["", "ts-bad-1"])
async def test_http_ts_init_minus_one_is_refused_with_or_without_an_id(stack: Stack, intent_id: str) -> None:
    body = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 1, "ts_init": -1}
    if intent_id:
        body["intent_id"] = intent_id
    status, answer = await stack.post("/intents", body)
    assert status == 400
    assert _fields(answer)["ts_init"]["value"] == -1
    assert answer["result"]["status"] == "REJECTED"
    assert stack.placed() == []


@pytest.mark.parametrize("ts_init", [-1, 1.5, "x"])
@pytest.mark.parametrize("intent_id", ["", "lib-ts-1"])
async def test_library_invalid_ts_init_is_refused_with_or_without_an_id(
    stack: Stack, ts_init: Any, intent_id: str
) -> None:
    intent = OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, ts_init=ts_init, intent_id=intent_id
    )
    result = await asyncio.wait_for(stack.svc.execute_intent(intent), 10)
    assert (result.status, result.reject_reason) == ("REJECTED", "validation")
    errors = {e["field"]: e for e in (result.raw or {})["errors"]}
    assert errors["ts_init"]["value"] == ts_init
    assert stack.placed() == []


# -- bodies msgspec cannot read: not UTF-8, nested too deeply ------------------------------------------

DEEP = b"[" * 30_000 + b"]" * 30_000
UNREADABLE_INTENTS = [
    pytest.param(INTENT + b'"qty":10,"tag":"\xff"}', id="non-utf8"),
    pytest.param(INTENT + b'"qty":10,"metadata":{"a":' + DEEP + b"}}", id="deep-metadata"),
    pytest.param(DEEP, id="deep-array"),
    pytest.param(b"\xff\xfe", id="bare-non-utf8"),
]
UNREADABLE_ACTIONS = [
    pytest.param(b'{"reason":"\xff"}', id="non-utf8-reason"),
    pytest.param(b'{"reason":"x","by":"\xfe"}', id="non-utf8-by"),
    pytest.param(DEEP, id="deep-array"),
    pytest.param(b"\xff\xfe", id="bare-non-utf8"),
]
OPERATOR_PATHS = ["/halt", "/resume", "/breakers/reset", "/square-off"]


@pytest.mark.parametrize("body", UNREADABLE_INTENTS)
async def test_an_unreadable_intent_is_400_naming_body(stack: Stack, body: bytes) -> None:
    status, answer = await stack.post("/intents", body)
    assert status == 400, answer
    assert list(_fields(answer)) == ["body"]
    assert stack.placed() == []


@pytest.mark.parametrize("body", UNREADABLE_ACTIONS)
@pytest.mark.parametrize("path", OPERATOR_PATHS)
async def test_an_unreadable_operator_body_is_400_naming_body(stack: Stack, path: str, body: bytes) -> None:
    await stack.post("/intents", {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 5})
    before = stack.journal()
    status, answer = await stack.post(path, body)
    assert status == 400, answer
    assert list(_fields(answer)) == ["body"]
    assert stack.journal() == before and not stack.svc.halted


async def test_a_halt_reason_that_is_not_utf8_is_400(stack: Stack) -> None:
    status, answer = await stack.post("/halt", b'{"reason":"\xff"}')
    assert status == 400 and list(_fields(answer)) == ["body"]
    assert not stack.svc.halted


# -- unknown fields and duplicate keys: refused, nothing done ------------------------------------------


async def test_square_off_with_a_misspelt_strategy_is_400_and_squares_off_nothing(stack: Stack) -> None:
    for strategy in ("s1", "s2"):
        body = {"symbol": "NSE:INFY", "strategy_code": strategy, "side": "BUY", "qty": 5, "product": "MIS"}
        status, _ = await stack.post("/intents", body)
        assert status == 200
    before = stack.placed()
    status, answer = await stack.post("/square-off", {"strategy_code": "s1", "reason": "only s1"})
    assert status == 400, answer
    error = _fields(answer)["strategy_code"]
    assert error["value"] == "s1" and "unknown field" in error["reason"] and "strategy" in error["reason"]
    assert stack.placed() == before
    assert sorted((p.strategy_code, p.net_qty) for p in stack.svc.positions()) == [("s1", 5), ("s2", 5)]


@pytest.mark.parametrize("path", OPERATOR_PATHS)
async def test_an_unknown_field_in_an_operator_body_is_400_naming_it(stack: Stack, path: str) -> None:
    before = stack.journal()
    status, answer = await stack.post(path, {"reason": "x", "by": "ops", "colour": "red", "force": True})
    assert status == 400, answer
    errors = _fields(answer)
    assert (errors["colour"]["value"], errors["force"]["value"]) == ("red", True)
    assert stack.journal() == before and not stack.svc.halted


@pytest.mark.parametrize("path", OPERATOR_PATHS)
async def test_a_duplicate_key_in_an_operator_body_is_400_naming_it(stack: Stack, path: str) -> None:
    before = stack.journal()
    status, answer = await stack.post(path, b'{"reason":"x","reason":"y"}')
    assert status == 400, answer
    assert "more than once" in _fields(answer)["reason"]["reason"]
    assert stack.journal() == before and not stack.svc.halted


async def test_an_intent_with_a_misspelt_field_is_400_naming_each_and_not_placed(stack: Stack) -> None:
    body = INTENT + b'"qty":10,"order_type":"LIMIT","price":1400.0,"validty":"IOC","prodcut":"NRML"}'
    status, answer = await stack.post("/intents", body)
    assert status == 400, answer
    errors = _fields(answer)
    assert set(errors) == {"validty", "prodcut"}
    assert errors["validty"]["value"] == "IOC" and "'validity'" in errors["validty"]["reason"]
    assert errors["prodcut"]["value"] == "NRML" and "'product'" in errors["prodcut"]["reason"]
    assert stack.placed() == [] and [e for e in stack.journal() if e["type"] == "intent"] == []


async def test_an_intent_may_carry_its_tag(stack: Stack) -> None:
    status, answer = await stack.post("/intents", INTENT + b'"qty":10,"type":"intent"}')
    assert status == 200 and answer["status"] == "FILLED"


@pytest.mark.parametrize(
    ("body", "key", "values"),
    [
        (INTENT + b'"qty":10,"qty":20}', "qty", "[10, 20]"),
        (INTENT + b'"qty":10,"metadata":{"a":1,"a":2}}', "a", "[1, 2]"),
        (INTENT + b'"qty":"ten","side":"SELL"}', "side", "['BUY', 'SELL']"),
    ],
)
async def test_a_duplicate_key_in_an_intent_is_400_naming_it(
    stack: Stack, body: bytes, key: str, values: str
) -> None:
    status, answer = await stack.post("/intents", body)
    assert status == 400, answer
    error = _fields(answer)[key]
    assert error["value"] == values and "more than once" in error["reason"]
    assert stack.placed() == []


async def test_square_off_of_an_empty_strategy_name_is_400_and_squares_off_nothing(stack: Stack) -> None:
    """``{"strategy": ""}`` squared off nothing, answered 200 ok and logged 'all strategies'."""
    body = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 5, "product": "MIS"}
    assert (await stack.post("/intents", body))[0] == 200
    before = stack.placed()
    status, answer = await stack.post("/square-off", {"strategy": "", "reason": "typo"})
    assert status == 400, answer
    assert _fields(answer)["strategy"]["value"] == ""
    assert stack.placed() == before


async def test_an_operator_action_on_an_instance_without_the_lease_is_503(stack: Stack) -> None:
    """The journal refuses to write for an instance that lost the account's lease: that is not an
    internal error (500) but 'ask the active instance' (503), and nothing is halted."""
    stack.svc.journal.guard = lambda: False
    status, answer = await stack.post("/halt", {"reason": "x", "by": "ops"})
    stack.svc.journal.guard = None
    assert status == 503 and answer["error"] == "not the active instance", answer
    assert not stack.svc.halted


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/intents", INTENT + b'"qty":1,"intent_id":"a\\ud800"}', "intent_id"),
        ("/intents", INTENT + b'"qty":1,"metadata":{"note":["ok","\\udc00"]}}', "metadata.note[1]"),
        ("/halt", b'{"reason":"lunch \\ud83d"}', "reason"),
    ],
)
async def test_a_lone_surrogate_escape_is_named_by_field_not_called_truncated(stack, path, body, field):
    # a walk-through found msgspec's "Input data was truncated" for a complete body holding one:
    # it names no field and says something untrue about the body
    status, answer = await stack.post(path, body)

    assert status == 400
    errors = _fields(answer)
    assert field in errors, answer
    assert "lone surrogate" in errors[field]["reason"]
    assert "truncated" not in json.dumps(answer)
    assert stack.placed() == []
    assert not stack.svc.halted


@pytest.mark.parametrize(
    ("body", "field", "written"),
    [
        (INTENT + b'"qty":1,"order_type":"LIMIT","price":1e400}', "price", "1e400"),
        (INTENT + b'"qty":1,"order_type":"LIMIT","price":-1.5E+999}', "price", "-1.5E+999"),
        (INTENT + b'"qty":1e400,"order_type":"MARKET"}', "qty", "1e400"),
        # msgspec names a dict's entry "[...]": metadata[...][1] came back with value null
        (INTENT + b'"qty":1,"metadata":{"a":[1,1e400]}}', "metadata.a[1]", "1e400"),
        (INTENT + b'"qty":1,"metadata":{"b":{"c":-1e999}}}', "metadata.b.c", "-1e999"),
    ],
)
async def test_a_number_out_of_range_is_400_naming_its_field_and_its_value_as_written(
    stack: Stack, body: bytes, field: str, written: str
) -> None:
    # a float JSON holds but a double cannot: the whole body does not decode, so the value was null
    status, answer = await stack.post("/intents", body)

    assert status == 400, answer
    errors = _fields(answer)
    assert errors[field]["value"] == written
    assert errors[field]["reason"] == "Number out of range"
    assert stack.placed() == []
