"""The NATS JetStream bus against a real nats-server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.bus.nats import NatsBus
from execsvc.clock import LiveClock
from execsvc.config import Config, config_from_dict
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import read_journal
from execsvc.remote import NoActiveExecutorError, RemoteExecution
from tests.conftest import BREAKERS_OFF
from tests.hostile_kite import Results

pytestmark = pytest.mark.timeout(240)  # real servers, processes and a failover: more than the default

REPO = Path(__file__).resolve().parents[2]


def nats_config(
    journal_dir: Path, url: str, *, instance: str = "a", ttl: float = 2.0, max_age: float | None = None
) -> Config:
    """An executor on the NATS bus. ``max_age`` (``execution.max_intent_age_seconds``) is off by
    default: these tests load two cores with producer processes and a failover, and an intent that
    a timed-out producer sent again may well wait 30 s in the stream; ageing has its own tests."""
    return config_from_dict(
        {
            "journal": {"dir": str(journal_dir), "fsync": "batch"},
            "market": {"instruments_file": None},
            "execution": {"circuit_breakers": BREAKERS_OFF, "max_intent_age_seconds": max_age},
            "bus": {
                "backend": "nats",
                "nats": {
                    "servers": [url],
                    "account": "acct1",
                    "instance_id": instance,
                    "lease_ttl_seconds": ttl,
                    "ack_wait_seconds": 3.0,
                },
            },
        }
    )


def prime(svc: ExecutionService) -> None:
    """A tick for the paper simulator, before intake starts (market data is per process)."""
    svc.engine.paper.on_tick(Tick(symbol="NSE:INFY", last_price=1500.0), 0)


def intent(intent_id: str, **kw: Any) -> OrderIntent:
    fields: dict[str, Any] = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 1}
    fields.update(kw)
    return OrderIntent(intent_id=intent_id, **fields)


async def test_remote_producer_round_trip_duplicates_and_named_errors(tmp_path, nats_server):
    async with RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        with pytest.raises(NoActiveExecutorError, match="acct1"):
            await remote.execute_intent(intent("early"))
        svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
        prime(svc)
        async with svc:
            first = await remote.execute_intent(intent("r1"))
            again = await remote.execute_intent(intent("r1", qty=99))
            bad_type = await remote.execute_intent(intent("r2", qty="ten"))  # type: ignore[arg-type]
            local = await svc.execute_intent(intent("r4", side="SELL"))
            status = svc.bus_status()
            from execsvc.metrics import ServiceMetrics

            metrics = ServiceMetrics(svc)
            exposition = metrics.registry.render()
            metrics.close()
    assert "execsvc_nats_lease_active 1" in exposition and "execsvc_nats_consumer_lag" in exposition
    assert (first.status, first.filled_qty) == ("FILLED", 1)
    assert again == first
    assert bad_type.status == "REJECTED" and "qty='ten'" in (bad_type.message or "")
    assert local.status == "FILLED"
    assert (
        status["backend"] == "nats"
        and status["lease"]["instance"] == "a"
        and status["intake"]["delivered"] >= 3
    )
    events = [r.ev for r in read_journal(next((tmp_path / "j").glob("*.jsonl"))).records]
    accepted = Counter(e.intent_id for e in events if type(e).__name__ == "OrderAccepted")
    assert accepted == {"r1": 1, "r4": 1}


async def test_an_undecodable_intent_gets_the_named_error_back(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        waiter = asyncio.get_running_loop().create_future()
        remote._waiters["r3"] = [waiter]
        await remote.js.publish(
            "execsvc.acct1.intents.s1",
            b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":1,"colour":"red"}',
            headers={"Nats-Msg-Id": "r3"},
        )
        result = await asyncio.wait_for(waiter, 5)
    assert result.status == "REJECTED" and result.raw == {
        "errors": [{"field": "colour", "value": "red", "reason": "unknown field"}]
    }


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        pytest.param({"price": float("inf")}, "price", id="market-price-inf"),
        pytest.param({"trigger_price": float("-inf")}, "trigger_price", id="market-trigger-minus-inf"),
        pytest.param({"order_type": "LIMIT", "price": float("inf")}, "price", id="limit-price-inf"),
        pytest.param({"confidence": float("nan")}, "confidence", id="confidence-nan"),
    ],
)
async def test_a_price_no_number_holds_is_refused_naming_it_over_the_bus_as_in_process(
    tmp_path, nats_server, terms, field
):
    """JSON has no infinity or NaN: the message carried such a value as null, so a MARKET intent
    with price=inf, which the in-process bus refuses by name, was FILLED over NATS, and a LIMIT one
    was refused as 'price=None: required'. Sent by the service or by a remote producer alike."""
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        local = await svc.execute_intent(intent("inf-local", **terms))
        remote_answer = await remote.execute_intent(intent("inf-remote", **terms))

    for answer in (local, remote_answer):
        assert answer.status == "REJECTED" and answer.reject_reason == "validation", answer
        named = [e["value"] for e in (answer.raw or {})["errors"] if e["field"] == field]
        assert named and set(named) == {repr(terms[field])}, answer.raw
    assert journal_orders(tmp_path / "j") == Counter()


async def test_modify_and_cancel_go_over_the_bus(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        resting = [
            await svc.execute_intent(intent(f"rest{n}", order_type="LIMIT", price=1400.0)) for n in range(3)
        ]
        modified = await asyncio.wait_for(svc.modify_order(resting[0].order_id or "", price=1410.0), 10)
        again = await asyncio.wait_for(svc.modify_order(resting[0].order_id or "", price=1410.0), 10)
        by_order = await asyncio.wait_for(svc.cancel_order(resting[1].order_id or ""), 10)
        # by intent id: the cancel must not share the Nats-Msg-Id of the intent it names
        by_intent = await asyncio.wait_for(svc.cancel_order(intent_id="rest2"), 10)
        terms = svc.engine.state.orders[resting[0].order_id or ""].order
    assert [r.status for r in resting] == ["PLACED"] * 3
    assert (modified.status, modified.intent_id) == ("PLACED", "rest0")
    assert modified.order_id == resting[0].order_id
    assert again.status == "PLACED"  # the same change twice is two requests, neither dropped
    assert (terms.price, terms.qty) == (1410.0, 1)
    assert (by_order.status, by_order.intent_id) == ("CANCELLED", "rest1")
    assert (by_intent.status, by_intent.intent_id) == ("CANCELLED", "rest2")
    events = [r.ev for r in read_journal(next((tmp_path / "j").glob("*.jsonl"))).records]
    assert [(type(e).__name__, getattr(e, "price", None)) for e in events if "Modif" in type(e).__name__] == [
        ("ModifyIntent", 1410.0),
        ("OrderModified", 1410.0),
        ("ModifyIntent", 1410.0),
        ("OrderModified", 1410.0),
    ]
    assert sum(type(e).__name__ == "CancelIntent" for e in events) == 2


async def test_a_remote_modify_without_a_key_header_is_keyed_by_its_message_id(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        resting = await remote.execute_intent(intent("rm1", order_type="LIMIT", price=1400.0))
        waiter = asyncio.get_running_loop().create_future()
        remote._waiters["rm1"] = [waiter]
        body = b'{"type":"modify_intent","order_id":"%s","price":1420.0}' % (resting.order_id or "").encode()
        await remote.js.publish("execsvc.acct1.intents.s1", body, headers={"Nats-Msg-Id": "mod-rm1-1"})
        modified = await asyncio.wait_for(waiter, 5)  # answered: the intake read it without a key
    assert (modified.status, modified.order_id) == ("PLACED", resting.order_id)
    assert svc.engine.state.orders[resting.order_id or ""].order.price == 1420.0


async def test_a_change_with_a_term_of_the_wrong_type_is_answered_over_the_bus_as_by_the_library(
    tmp_path, nats_server
):
    """The intake converted a cancel or a modify strictly, so a term the engine would refuse by
    name (qty=5.0) or take (reason=None) made the message undecodable: it was acked and answered
    only on the results stream under its message id, the caller's modify_order or cancel_order
    waited for ever, and the cancel never happened."""
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        resting = await svc.execute_intent(intent("wt1", qty=10, order_type="LIMIT", price=1400.0))
        order_id = resting.order_id or ""
        refused = await asyncio.wait_for(svc.modify_order(order_id, qty=5.0), 10)  # type: ignore[arg-type]
        cancelled = await asyncio.wait_for(svc.cancel_order(order_id, reason=None), 10)  # type: ignore[arg-type]
        working = svc.engine.state.orders[order_id].working
    assert (refused.status, refused.message) == ("PLACED", "modify refused: qty=5.0: must be an integer")
    assert (cancelled.status, working) == ("CANCELLED", False)


async def test_a_redelivered_modify_does_not_undo_a_later_one(tmp_path, nats_server, monkeypatch):
    """A change had no idempotency: when its ack was lost (NATS restarting), JetStream redelivered
    it after ack_wait and the engine carried it out again, so cutting an order to 5 and then
    raising it to 8 left it at 5 once the first change came back. A change is done once per key."""
    from nats.aio.msg import Msg

    real_ack = Msg.ack
    lost: list[bytes] = []

    async def ack(msg: Msg) -> None:
        if b'"qty":5' in msg.data and not lost:
            lost.append(msg.data)
            raise ConnectionError("ack lost")
        await real_ack(msg)

    monkeypatch.setattr(Msg, "ack", ack)
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        seen = Results(svc)
        resting = await svc.execute_intent(intent("rd1", qty=10, order_type="LIMIT", price=1400.0))
        order_id = resting.order_id or ""
        cut = await asyncio.wait_for(svc.modify_order(order_id, qty=5), 10)
        raised = await asyncio.wait_for(svc.modify_order(order_id, qty=8), 10)
        assert isinstance(svc.bus, NatsBus) and lost
        # the redelivery (after ack_wait) is answered, and the answer published: await it
        repeat = await seen.until("rd1", lambda r: "a repeat of change" in (r.message or ""), timeout=20)
        qty = svc.engine.state.orders[order_id].order.qty
        assert svc.bus.stats.redelivered
    assert (cut.status, raised.status) == ("PLACED", "PLACED")
    assert repeat.qty == 8 and qty == 8


async def test_an_ack_lost_with_nats_is_answered_from_the_journal_at_the_next_start(
    tmp_path, nats_server, monkeypatch
):
    """NATS goes down between an intent's execution and its ack: nats-py takes the ack into the
    data it holds for the server, which the close drops (nothing can reach a server that is gone).
    JetStream then delivers the intent again to the next executor, which must answer it from the
    journal by its intent id with the first result, not place it a second time."""
    from nats.aio.msg import Msg

    real_ack = Msg.ack
    outage = asyncio.Event()
    connected_at_ack: list[bool] = []

    async def ack_after_nats_went(msg: Msg) -> None:
        if not outage.is_set() and b'"lost-ack"' in msg.data:
            await nats_server.stop()
            outage.set()
            connected_at_ack.append(msg._client.is_connected)
        await real_ack(msg)

    monkeypatch.setattr(Msg, "ack", ack_after_nats_went)
    config = nats_config(tmp_path / "j", nats_server.url)
    first = ExecutionService(config, clock=LiveClock())
    prime(first)
    await first.start()
    answer = await asyncio.wait_for(first.execute_intent(intent("lost-ack")), 10)
    await asyncio.wait_for(outage.wait(), 10)
    await asyncio.wait_for(first.stop(), 60)
    assert isinstance(first.bus, NatsBus)
    acked_before = first.bus.stats.acked

    await nats_server.start()
    second = ExecutionService(config, clock=LiveClock())
    prime(second)
    seen = Results(second)
    async with second:
        again = await seen.until("lost-ack", lambda r: True, timeout=30)

    assert (answer.status, answer.filled_qty) == ("FILLED", 1)
    # the ack went into nats-py's pending data (counted as sent), which the close dropped
    assert connected_at_ack == [False] and acked_before == 1
    assert again == answer  # the first result, from the journal
    assert isinstance(second.bus, NatsBus) and second.bus.stats.acked == 1
    assert journal_orders(tmp_path / "j") == Counter({"lost-ack": 1})


async def test_an_intent_whose_result_a_stop_gave_up_is_not_acked_though_nats_came_back_for_the_ack(
    tmp_path, nats_server, monkeypatch
):
    """A stop with NATS down gives up the results it cannot publish; if NATS is back by the time
    the intake acknowledges the batch, that ack must not go out: the intent would never be
    delivered again and its answer never reach the results stream (a producer that times out and
    sends a new intent would trade twice). Unacknowledged, it is answered from the journal."""
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

    real_publish, real_ack = JetStreamContext.publish, Msg.ack
    outage = asyncio.Event()

    async def publish_as_nats_goes(js: Any, subject: str, payload: bytes = b"", *args: Any, **kw: Any) -> Any:
        if ".results." in subject and b'"given-up"' in payload and not outage.is_set():
            await nats_server.stop()
            outage.set()
        return await real_publish(js, subject, payload, *args, **kw)

    async def ack_once_nats_is_back(msg: Msg) -> None:
        if b'"given-up"' in msg.data and not msg._client.is_connected:
            await nats_server.start()
            await msg._client.flush(timeout=30)  # reconnected: the ack reaches the server
        await real_ack(msg)

    monkeypatch.setattr(JetStreamContext, "publish", publish_as_nats_goes)
    monkeypatch.setattr(Msg, "ack", ack_once_nats_is_back)
    config = nats_config(tmp_path / "j", nats_server.url)
    first = ExecutionService(config, clock=LiveClock())
    prime(first)
    await first.start()
    answer = await asyncio.wait_for(first.execute_intent(intent("given-up")), 10)
    await asyncio.wait_for(outage.wait(), 10)
    await asyncio.wait_for(first.stop(), 60)
    if nats_server.proc is None:  # not brought back by an ack: none was sent
        await nats_server.start()

    second = ExecutionService(config, clock=LiveClock())
    prime(second)
    seen = Results(second)
    async with second:
        again = await seen.until("given-up", lambda r: True, timeout=30)

    assert (answer.status, answer.filled_qty) == ("FILLED", 1)
    assert again == answer  # the first result, from the journal
    assert journal_orders(tmp_path / "j") == Counter({"given-up": 1})


PRODUCER = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[4])
    from execsvc import OrderIntent
    from execsvc.bus.subjects import lease_key
    from execsvc.remote import (
        NoActiveExecutorError, RemoteExecution, RemoteTimeoutError, RemoteUnavailableError)

    async def executor_named(remote):
        # the lease names no executor between a killed one's entry expiring and the standby's
        # take-over: watch the key (before looking, so the take-over cannot slip between) until it
        # does; updates() raises after 60 s without one
        kv = await remote.js.key_value(remote.lease_bucket)
        watcher = await kv.watch(lease_key(remote.account))
        try:
            while await remote.active_executor() is None:
                await watcher.updates(timeout=60)
        finally:
            await watcher.stop()

    async def main(url, who, count):
        results = {}
        async with RemoteExecution(url, "acct1", timeout=float(sys.argv[5])) as remote:
            sem = asyncio.Semaphore(64)
            async def send(n):
                intent_id = f"{who}-{n}"
                async with sem:
                    for attempt in range(20):
                        try:
                            r = await remote.execute_intent(OrderIntent(
                                symbol="NSE:INFY", strategy_code=who, side="BUY" if n % 2 else "SELL", qty=1,
                                intent_id=intent_id))
                            break
                        except (RemoteTimeoutError, RemoteUnavailableError):  # send it again at once
                            if attempt == 19:
                                raise
                        except NoActiveExecutorError:  # nothing was sent
                            if attempt == 19:
                                raise
                            await executor_named(remote)
                    results.setdefault(intent_id, []).append([r.status, r.order_id])
            ids = list(range(count)) + list(range(0, count, 10))  # every tenth intent is sent twice
            await asyncio.gather(*(send(n) for n in ids))
        print(json.dumps(results), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def run_producers(
    url: str, names: list[str], count: int, timeout: float = 15.0
) -> dict[str, list[list[Any]]]:
    """Producer processes sending ``count`` intents each (every tenth twice); a request that timed
    out, or that JetStream did not take, within ``timeout`` seconds is sent again (the same intent
    id: answered once), one refused for want of an executor once the lease names one; any other
    error fails the producer."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", PRODUCER, url, name, str(count), str(REPO), str(timeout),
            stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for name in names
    ]  # fmt: skip
    merged: dict[str, list[list[Any]]] = {}
    for proc in procs:
        out, _ = await asyncio.wait_for(proc.communicate(), 240)
        assert proc.returncode == 0
        merged.update(json.loads(out))
    return merged


def journal_orders(journal_dir: Path) -> Counter[str]:
    [path] = list(journal_dir.glob("*.jsonl"))
    verify_file(path)
    return Counter(
        r.ev.intent_id for r in read_journal(path).records if type(r.ev).__name__ == "OrderAccepted"
    )  # type: ignore[union-attr]


async def test_three_producer_processes_10000_intents_each_once(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        results = await run_producers(nats_server.url, ["p1", "p2", "p3"], 3334)
    assert len(results) == 3 * 3334
    for intent_id, answers in results.items():
        assert all(a == answers[0] for a in answers), intent_id  # a resend got the same answer
        assert answers[0][0] == "FILLED"
    orders = journal_orders(tmp_path / "j")
    assert set(orders) == set(results) and max(orders.values()) == 1


SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[4])
    from execsvc import ExecutionService, Tick
    from execsvc.clock import LiveClock
    from tests.integration.test_nats import nats_config, prime
    from pathlib import Path

    async def main():
        config = nats_config(Path(sys.argv[1]), sys.argv[2], instance=sys.argv[3])
        svc = ExecutionService(config, clock=LiveClock())
        prime(svc)
        async with svc:
            print("active", flush=True)
            await svc.deposed.wait()

    asyncio.run(main())
    """
)


async def start_service(journal_dir: Path, url: str, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVICE, str(journal_dir), url, name, str(REPO),
        stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


async def test_kill_9_of_the_active_executor_the_standby_takes_over(tmp_path, nats_server):
    journal_dir = tmp_path / "shared-journal"  # storage both instances reach (see docs/ARCHITECTURE.md)
    active = await start_service(journal_dir, nats_server.url, "A")
    assert active.stdout is not None
    assert (await asyncio.wait_for(active.stdout.readline(), 30)).strip() == b"active"
    standby = await start_service(journal_dir, nats_server.url, "B")
    assert standby.stdout is not None
    producers = asyncio.ensure_future(run_producers(nats_server.url, ["q1", "q2"], 1500))
    try:
        async with RemoteExecution(nats_server.url, "acct1") as watcher:
            # let the active one execute a part of the stream, then kill it hard
            counter = ResultCounter()
            await watcher.nc.subscribe("execsvc.acct1.results.>", cb=counter.on_message)
            await counter.reached(500)
            active.send_signal(signal.SIGKILL)
            killed_at = asyncio.get_running_loop().time()
            await asyncio.wait_for(active.wait(), 10)
            assert (await asyncio.wait_for(standby.stdout.readline(), 30)).strip() == b"active"
            took_over = asyncio.get_running_loop().time() - killed_at
            assert await watcher.active_executor() == "B"
        results = await asyncio.wait_for(producers, 240)
    finally:
        for proc in (active, standby):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert took_over < 2.0 + 1.5  # the lease TTL, plus the standby's poll and start-up
    assert len(results) == 3000 and all(a[0][0] == "FILLED" for a in results.values())
    orders = journal_orders(journal_dir)
    assert set(orders) == set(results) and max(orders.values()) == 1


class ResultCounter:
    """Counts the results the executor publishes; ``reached(n)`` waits for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    async def on_message(self, msg: Any) -> None:
        self.note(msg)

    def note(self, _: Any) -> None:
        self.count += 1
        self._changed.set()

    async def reached(self, n: int, timeout: float = 120) -> None:
        async def wait() -> None:
            while self.count < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)


async def test_nats_restart_mid_stream_everyone_reconnects_and_finishes(tmp_path, nats_server, caplog):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url, ttl=5.0), clock=LiveClock())
    prime(svc)
    async with svc:
        counter = ResultCounter()
        svc.on_result(counter.note, name="counter")
        # requests lost in the restart are sent again after 3 s (not the default 15 s): same answers
        producers = asyncio.ensure_future(run_producers(nats_server.url, ["n1"], 1500, timeout=3.0))
        await counter.reached(300)
        await nats_server.stop()
        await nats_server.start()
        results = await asyncio.wait_for(producers, 240)
        assert svc.bus_status()["reconnects"] >= 1
    assert len(results) == 1500 and all(a[0][0] == "FILLED" for a in results.values())
    orders = journal_orders(tmp_path / "j")
    assert set(orders) == set(results) and max(orders.values()) == 1
    # the stop closed the connection at once: it did not wait out nats-py's 30 s drain timeout on
    # messages a cut-short fetch left queued in the intake's pull subscription
    assert "draining connection timed out" not in caplog.text


async def test_after_a_clean_stop_producers_get_a_clear_error(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        assert (await remote.execute_intent(intent("warm"))).status == "FILLED"
    # the clean stop released the lease: nothing is sent, and the error says why
    async with RemoteExecution(nats_server.url, "acct1", timeout=0.3) as remote:
        with pytest.raises(NoActiveExecutorError, match="was not sent"):
            await remote.execute_intent(intent("nobody"))


async def test_a_stop_while_nats_is_down_still_closes_the_journal_and_raises_nothing(tmp_path, nats_server):
    # found by a walk-through: SIGTERM to a daemon whose NATS server had gone ended in a traceback
    # from nats-py's close (its unsent pings written to the dead socket), and the close's later
    # steps, the journal's sync and close among them, never ran
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    await svc.start()
    async with RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        assert (await remote.execute_intent(intent("before-the-outage"))).status == "FILLED"
    await nats_server.stop()

    await asyncio.wait_for(svc.stop(), 60)

    assert not svc.journal.is_open
    [path] = (tmp_path / "j").glob("*.jsonl")
    assert verify_file(path).torn_tail_bytes == 0
    assert journal_orders(tmp_path / "j")["before-the-outage"] == 1


async def test_a_stop_while_nats_is_down_does_not_wait_for_results_it_cannot_publish(
    tmp_path, nats_server, caplog
):
    # a resting order filled on a tick while NATS was down: its result waited in the forwarder,
    # which retried for ever, and the stop's drain with it, until NATS came back (SIGTERM hung)
    config = nats_config(tmp_path / "j", nats_server.url, ttl=30.0)
    svc = ExecutionService(config, clock=LiveClock())
    prime(svc)
    await svc.start()
    resting = await svc.execute_intent(intent("filled-while-down", order_type="LIMIT", price=1400.0))
    await nats_server.stop()
    await svc.on_tick(Tick(symbol="NSE:INFY", last_price=1390.0))

    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(svc.stop(), 30)

    assert resting.status == "PLACED" and not svc.journal.is_open
    [path] = (tmp_path / "j").glob("*.jsonl")
    assert verify_file(path).torn_tail_bytes == 0
    filled = [
        r.ev for r in read_journal(path).records
        if type(r.ev).__name__ == "ExecutionResult" and r.ev.status == "FILLED"  # type: ignore[union-attr]
    ]  # fmt: skip
    assert [(r.intent_id, r.filled_qty) for r in filled] == [("filled-while-down", 1)]
    assert "1 results not published: NATS is down as the service stops" in caplog.text


async def test_a_stop_right_after_start_with_nats_gone_ends_cleanly_and_says_so(
    tmp_path, nats_server, caplog
):
    # found by a walk-through: an embedding script stopped the NATS server right after start();
    # stop() then raised the intake's fetch timeout as an ExceptionGroup, from the task group
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    await svc.start()
    await nats_server.stop()

    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(svc.stop(), 60)

    assert not svc.journal.is_open
    [path] = (tmp_path / "j").glob("*.jsonl")
    assert verify_file(path).torn_tail_bytes == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "NATS intake stopped before it could subscribe: this instance took no intents" in warnings


async def test_an_intent_sent_while_the_intake_waits_for_nats_is_taken_once_when_it_returns(
    tmp_path, nats_server, caplog
):
    # the intake retries its subscription while NATS is away; what a producer sends once NATS is
    # back (the intake perhaps still waiting out its back-off) is executed once and answered
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url, ttl=5.0), clock=LiveClock())
    prime(svc)
    with caplog.at_level(logging.WARNING):
        await svc.start()
        await nats_server.stop()
        await nats_server.start()
        try:
            async with RemoteExecution(nats_server.url, "acct1", timeout=20) as remote:
                first = await remote.execute_intent(intent("while-away"))
                again = await remote.execute_intent(intent("while-away"))
        finally:
            await asyncio.wait_for(svc.stop(), 60)

    assert (first.status, first.filled_qty) == ("FILLED", 1) and again == first
    assert journal_orders(tmp_path / "j") == Counter({"while-away": 1})
    assert any("NATS intake could not subscribe" in r.getMessage() for r in caplog.records)


async def test_a_kill_while_the_intake_waits_for_nats_cancels_it(tmp_path, nats_server):
    # the intake retries its subscription while NATS is away, but a kill's cancellation goes through
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    await svc.start()
    await nats_server.stop()
    assert isinstance(svc.bus, NatsBus) and svc.bus._intake is not None
    intake = svc.bus._intake

    await asyncio.wait_for(svc.kill(), 30)

    assert intake.cancelled()
    assert not svc.journal.is_open
