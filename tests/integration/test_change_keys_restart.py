"""A cancel or a modification is carried out once per submission key, across restarts too.

NATS redelivers a message whose ack was lost, possibly after later ones and possibly to a restarted
instance. The keys of the changes handled used to live only in the running engine, so after a
restart a redelivered cut undid the raise made since (an order at a stale price) and, live, went
to the broker again (another of Kite's 25 modifications per order). The key is journaled with the
change now, and the fold knows it: a repeat is answered, as by the running service, and not done.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from aiohttp import web

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import LiveClock, ReplayClock, ist_ns
from execsvc.engine import INTENTS_TOPIC, Submission
from execsvc.events import CancelIntent, ModifyIntent
from execsvc.executors.kite.mapping import tag_for
from tests.conftest import DAY, OPEN_NS, SECOND, amo, journal_records, make_config, tick
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, ok
from tests.integration.test_live_kite import intent as live_intent
from tests.integration.test_live_kite import live_config
from tests.integration.test_nats import intent as nats_intent
from tests.integration.test_nats import nats_config, prime
from tests.nats_support import NatsServer

DAY_FILE = f"{DAY.isoformat()}.jsonl"
EVENING = ist_ns(DAY, 20, 0)
LATE = ist_ns(DAY, 23, 59, 50)
AFTER_MIDNIGHT = ist_ns(DAY.replace(day=21), 0, 0, 1)
NEXT_OPEN = ist_ns(DAY.replace(day=21), 9, 15)
THIRD_DAY = ist_ns(DAY.replace(day=22), 8, 0)


def repeat_of(key: str) -> str:
    return f"a repeat of change {key!r}, already handled: not done again"


async def change(svc: ExecutionService, request: CancelIntent | ModifyIntent, key: str) -> ExecutionResult:
    """Deliver a change under ``key``, as the NATS intake does (its ``Execsvc-Key``), and wait for
    the answer."""
    waiter = svc.engine.wait_for(key)
    await svc.bus.publish(INTENTS_TOPIC, Submission(request, key))
    return await waiter


def limit_buy(intent_id: str) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10, order_type="LIMIT", price=1490.0,
        intent_id=intent_id,
    )  # fmt: skip


def of_type(path: Path, kind: str) -> list[dict]:
    return [e for e in journal_records(path) if e["type"] == kind]


async def test_a_modification_redelivered_after_a_restart_does_not_undo_a_later_one(journal_dir):
    config = make_config(journal_dir)
    path = journal_dir / DAY_FILE
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(limit_buy("l1"))
        oid = placed.order_id or ""
        lowered = ModifyIntent(order_id=oid, price=1480.0, ts_init=OPEN_NS + 2 * SECOND)
        first = await change(svc, lowered, "k-lower")
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 60 * SECOND)) as svc:
        raised = await change(svc, ModifyIntent(order_id=oid, price=1485.0), "k-raise")
        await svc.settle()
        size = path.stat().st_size
        again = await change(svc, lowered, "k-lower")  # the lost ack's message, redelivered
        await svc.settle()
        price = svc.engine.state.orders[oid].order.price
    assert (placed.status, first.status, raised.status) == ("PLACED", "PLACED", "PLACED")
    assert price == 1485.0, f"the redelivered change undid the later one: {again.message}"
    assert again.message == repeat_of("k-lower")
    assert again.status == "PLACED" and again.order_id == oid  # the order's latest result
    assert path.stat().st_size == size, "a repeat journaled something"
    assert [e["price"] for e in of_type(path, "order_modified")] == [1480.0, 1485.0]
    assert [e.get("key") for e in of_type(path, "modify_intent")] == ["k-lower", "k-raise"]


@pytest.mark.parametrize("by", ["order_id", "intent_id"])
async def test_a_cancel_redelivered_after_a_restart_is_answered_as_a_repeat_and_not_journaled(
    journal_dir, by
):
    config = make_config(journal_dir)
    path = journal_dir / DAY_FILE
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(limit_buy("l1"))
        cancel = CancelIntent(**{by: placed.order_id if by == "order_id" else "l1"}, reason="test")
        cancelled = await change(svc, cancel, "c-1")
        repeat_before = await change(svc, cancel, "c-1")  # the running service's answer to a repeat
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 60 * SECOND)) as svc:
        await svc.settle()
        size = path.stat().st_size
        again = await change(svc, cancel, "c-1")
        await svc.settle()
    assert cancelled.status == "CANCELLED"
    assert again == repeat_before, (again.message, repeat_before.message)
    assert again.message == repeat_of("c-1")
    assert path.stat().st_size == size, "a repeat journaled something"
    assert [e.get("key") for e in of_type(path, "cancel_intent")] == ["c-1"]


async def test_a_change_to_an_unknown_order_is_not_remembered_as_handled(journal_dir):
    """As before: a key names a change of an order the service knows; one for an unknown order is
    refused each time it comes (nothing was done), and journaled without its key."""
    config = make_config(journal_dir)
    path = journal_dir / DAY_FILE
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        first = await change(svc, ModifyIntent(order_id="nope", price=1.0), "k-x")
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + SECOND)) as svc:
        again = await change(svc, ModifyIntent(order_id="nope", price=1.0), "k-x")
    assert first.reject_reason == again.reject_reason == "unknown_order"
    assert [e.get("key") for e in of_type(path, "modify_intent")] == [None, None]


async def test_a_change_after_a_restart_at_the_same_clock_reading_is_not_taken_for_a_repeat(journal_dir):
    """``modify_order`` keys a change by its order, the clock and a counter that starts again at 1
    with the process: under a replay clock a restart makes the key of a journaled change again."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS))
        placed = await svc.execute_intent(limit_buy("l1"))
        oid = placed.order_id or ""
        await svc.modify_order(oid, price=1480.0)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        second = await svc.modify_order(oid, price=1485.0)
        price = svc.engine.state.orders[oid].order.price
    assert price == 1485.0, second.message
    keys = [e["key"] for e in of_type(journal_dir / DAY_FILE, "modify_intent")]
    assert len(keys) == len(set(keys)) == 2


@pytest.mark.parametrize(
    "days", ["stopped before midnight", "rolled, then restarted", "carried twice, then restarted"]
)
async def test_a_modification_of_a_carried_amo_redelivered_after_a_restart_past_midnight(journal_dir, days):
    """The keys of a carried order's changes go with it into the new day (``CarriedOrder.change_keys``):
    a restart after the date line folds them from the day's opening, or carries them from the last
    journaled day when it writes that opening itself."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        placed = await svc.execute_intent(amo("a1", order_type="LIMIT", price=1490.0, qty=10))
        oid = placed.order_id or ""
        cut = ModifyIntent(order_id=oid, qty=5, ts_init=LATE)
        await change(svc, cut, "k-cut")
        await change(svc, ModifyIntent(order_id=oid, qty=8), "k-raise")
        if days != "stopped before midnight":
            await svc.on_tick(tick("NSE:SBIN", 800.0, AFTER_MIDNIGHT))  # the date line; INFY untouched
    restart_at = THIRD_DAY if days == "carried twice, then restarted" else NEXT_OPEN - SECOND
    async with ExecutionService(config, clock=ReplayClock(restart_at)) as svc:
        carried = svc.engine.state.orders[oid]
        assert carried.working and carried.order.qty == 8
        again = await change(svc, cut, "k-cut")
        qty = svc.engine.state.orders[oid].order.qty
        day = svc.engine.state.day
    assert day == ("2026-11-22" if days == "carried twice, then restarted" else "2026-11-21")
    assert qty == 8, f"the redelivered cut undid the later raise: {again.message}"
    assert again.message == repeat_of("k-cut")
    opening = journal_records(journal_dir / f"{day}.jsonl")[1]
    assert opening["type"] == "orders_carried"
    assert opening["orders"][0]["change_keys"] == ["k-cut", "k-raise"]


async def test_a_live_modification_redelivered_after_a_restart_is_not_sent_to_the_broker_again(tmp_path, sim):
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        placed = await svc.execute_intent(live_intent("lm1", qty=10, order_type="LIMIT", price=1400.0))
        oid = placed.order_id or ""  # the broker's order id
        lowered = ModifyIntent(order_id=oid, price=1390.0)
        first = await asyncio.wait_for(change(svc, lowered, "k-lower"), 5)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        raised = await asyncio.wait_for(change(svc, ModifyIntent(order_id=oid, price=1395.0), "k-raise"), 5)
        again = await asyncio.wait_for(change(svc, lowered, "k-lower"), 5)
        price = svc.engine.state.orders[tag_for("lm1")].order.price
    assert (first.message, raised.message) == ("modified", "modified")
    assert again.message == repeat_of("k-lower")
    [broker] = [o for o in sim.orders() if o.get("tag") == tag_for("lm1")]
    assert (price, broker["price"]) == (1395.0, 1395.0)
    assert sim.stats()["modifications"] == 2


@pytest.mark.timeout(120)
async def test_over_nats_a_modification_redelivered_to_a_restarted_instance_is_not_done_again(
    tmp_path, monkeypatch
):
    """The whole path: the ack of a cut is lost, the instance stops, another starts on the same
    journal and raises the order; JetStream redelivers the cut to it after ``ack_wait``."""
    from nats.aio.msg import Msg

    real_ack = Msg.ack
    lost: list[bytes] = []

    async def ack(msg: Msg) -> None:
        if b'"qty":5' in msg.data and not lost:
            lost.append(msg.data)
            raise ConnectionError("ack lost")
        await real_ack(msg)

    monkeypatch.setattr(Msg, "ack", ack)
    server = NatsServer(tmp_path / "nats")
    await server.start()
    try:
        first = ExecutionService(nats_config(tmp_path / "j", server.url, instance="a"), clock=LiveClock())
        prime(first)
        async with first:
            resting = await first.execute_intent(nats_intent("rd1", qty=10, order_type="LIMIT", price=1400.0))
            order_id = resting.order_id or ""
            cut = await asyncio.wait_for(first.modify_order(order_id, qty=5), 10)
        assert lost, "the cut's ack was not lost"
        second = ExecutionService(nats_config(tmp_path / "j", server.url, instance="b"), clock=LiveClock())
        prime(second)
        async with second:
            seen = Results(second)
            raised = await asyncio.wait_for(second.modify_order(order_id, qty=8), 10)
            repeat = await seen.until("rd1", lambda r: "a repeat of change" in (r.message or ""), timeout=20)
            qty = second.engine.state.orders[order_id].order.qty
    finally:
        await server.stop()
    assert (cut.status, raised.status) == ("PLACED", "PLACED")
    assert (repeat.qty, qty) == (8, 8)
    [path] = (tmp_path / "j").glob("*.jsonl")
    assert [e["qty"] for e in of_type(path, "modify_intent")] == [5, 8]


@pytest.mark.parametrize("kind", ["modify", "cancel"])
async def test_a_live_change_leaves_only_once_its_record_and_key_are_on_disk(tmp_path, monkeypatch, kind):
    """Write-ahead, as for a placement: a change sent before its record was durable and then lost
    with a crash would be unknown to the restart, and its redelivery sent again."""
    gate = threading.Event()
    real_fdatasync = os.fdatasync

    def slow_disk(fd: int) -> None:  # the disk takes its time; the test opens the gate
        gate.wait(5)
        real_fdatasync(fd)

    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            placed = await svc.execute_intent(buy("w1", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id or ""

            async def put(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
                kite.orders[oid].update(price=float(form["price"]))
                return ok({"order_id": oid})

            kite.hooks["PUT /orders/*"] = put
            request = (
                ModifyIntent(order_id=oid, price=1401.0) if kind == "modify" else CancelIntent(order_id=oid)
            )
            svc.journal.inline_sync_bytes = 0  # every sync in the worker thread: the gate holds it
            monkeypatch.setattr(os, "fdatasync", slow_disk)
            try:
                journaled = svc.journal.next_seq
                answer = asyncio.ensure_future(change(svc, request, "k-w"))
                while svc.journal.next_seq <= journaled:  # until the change is journaled
                    await asyncio.sleep(0)
                sent = ("PUT" if kind == "modify" else "DELETE", f"/orders/regular/{oid}")
                polls = kite.calls[("GET", "/orders")] + 2
                # it went out, or the service had its chances to send it: two order-book polls
                await kite.until(lambda: kite.calls[sent] > 0 or kite.calls[("GET", "/orders")] >= polls)
                sent_early = kite.calls[sent]
                gate.set()
                result = await asyncio.wait_for(answer, 5)
            finally:
                gate.set()
                monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    assert sent_early == 0, "the change went to the broker before its journal record was durable"
    assert (result.status, result.message) == (
        ("PLACED", "modified") if kind == "modify" else ("CANCELLED", "cancelled")
    )
