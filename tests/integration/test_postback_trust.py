"""What a postback proves: its checksum covers the order id and timestamp, not the rest of the body.

Kite signs ``order_id + order_timestamp`` only (FACTS.md 3.1), so a captured postback keeps verifying
whatever else is changed in it (a status, a quantity, a tag). The service takes the order's state
from the broker, never from the body. Each test serves the daemon's postback handler over the live
service against the loopback hostile broker (polling slowed to a minute: no other update source).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.control.app import build_app
from execsvc.executors.kite.auth import Secret
from execsvc.executors.kite.mapping import postback_checksum, tag_for
from execsvc.metrics import ServiceMetrics
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, kite_error

SECRET = "postback-api-secret-42"


def _signed(order: dict[str, Any], **changed: Any) -> dict[str, Any]:
    """The broker order as a postback, with ``changed`` fields, signed as Kite signs it."""
    body = {**order, **changed}
    return {**body, "checksum": postback_checksum(body["order_id"], body["order_timestamp"], SECRET)}


async def _post(svc: ExecutionService, tmp_path: Any, body: dict[str, Any]) -> int:
    metrics = ServiceMetrics(svc)
    app = build_app(svc, token=None, metrics=metrics, journal_dir=tmp_path, postback_secret=Secret(SECRET))
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/kite/postback", json=body)
    await svc.settle()  # the update is applied (or dropped) before this returns
    return response.status


async def test_a_signed_postback_whose_body_was_changed_does_not_close_a_working_order(tmp_path):
    """A captured postback of our working order, its status changed to CANCELLED: the checksum still
    matches, but the broker shows the order OPEN, so it keeps working (and its fill is booked)."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url, poll_interval_seconds=60.0)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("pb1", qty=5, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            forged = _signed(kite.orders[oid], status="CANCELLED", filled_quantity=0)
            status = await _post(svc, tmp_path, forged)
            record = svc.engine.state.orders[tag_for("pb1")]
            assert status == 200 and record.working, record
            kite.fill(oid, 5, 1400.0)
            await _post(svc, tmp_path, _signed(kite.orders[oid]))
            filled = await seen.until("pb1", lambda r: r.status == "FILLED")
    assert filled.filled_qty == 5


async def test_a_signed_postback_of_another_order_cannot_claim_our_tag(tmp_path):
    """A genuine postback of another order of the app, given the tag of our order whose placement's
    answer was lost: the broker's order carries no such tag, so it is neither adopted as ours nor
    closes ours."""
    async with HostileKite() as kite:
        other = kite.new_order(
            {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "SELL", "quantity": "7",
             "product": "MIS", "order_type": "LIMIT", "price": "1600", "tag": "manual1"}
        )  # fmt: skip

        async def lost(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            return kite_error(503, "NetworkException", "Gateway timed out")  # never reached the book

        kite.hooks["POST /orders/*"] = lost
        config = hostile_config(tmp_path, kite.url, poll_interval_seconds=60.0, unknown_check_delays=[60.0])
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            first = await svc.execute_intent(buy("pb2", qty=5, order_type="LIMIT", price=1400.0))
            ours = tag_for("pb2")
            await _post(svc, tmp_path, _signed(other, tag=ours, tags=[ours], status="CANCELLED"))
            record = svc.engine.state.orders[ours]
            latest = svc.engine.state.latest_results["pb2"]
            await svc.kill()  # the lookup by tag waits a minute: not this test's business
    assert first.status == "UNKNOWN"
    assert record.working and record.broker_order_id is None, record
    assert latest.status == "UNKNOWN", latest


async def test_a_replayed_postback_reads_the_order_from_the_broker_once(tmp_path):
    """Each postback that names our order costs a read from Kite, out of the rate limit polling
    needs too: the same captured postback sent again and again read the order every time."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url, poll_interval_seconds=60.0)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            placed = await svc.execute_intent(buy("pb9", qty=5, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            replayed = _signed(kite.orders[oid])
            statuses = [await _post(svc, tmp_path, replayed) for _ in range(5)]
            reads = kite.calls[("GET", f"/orders/{oid}")]
            kite.fill(oid, 5, 1400.0)  # a real change: its postback differs, and is read
            await _post(svc, tmp_path, _signed(kite.orders[oid]))
            reads_after_fill = kite.calls[("GET", f"/orders/{oid}")]
    assert statuses == [200] * 5
    assert (reads, reads_after_fill) == (1, 2)
