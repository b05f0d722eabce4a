"""Stopping a NATS executor: intake stops first, then everything drains; a standby stops at once.

The stop waits up to ``settle_timeout`` for live orders on their way to the broker. Intents that
reach the intents stream meanwhile belong to whoever executes next; an executor that took them while
it stopped would send orders that its own ``close`` then cuts short, leaving them unanswered in its
journal and unknown at the broker until the next start reconciles them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.bus.nats import NatsBus
from execsvc.bus.subjects import MSG_ID_HEADER, intents_subject
from execsvc.clock import LiveClock
from execsvc.config import Config, config_from_dict
from execsvc.journal.codec import encode_event
from execsvc.journal.reader import read_journal
from execsvc.remote import RemoteExecution
from execsvc.sim import KiteSimulator
from tests.conftest import BREAKERS_OFF

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]


def live_nats_config(journal_dir: Path, sim: KiteSimulator, nats_url: str) -> Config:
    data: dict[str, Any] = {
        "mode": "live",
        "journal": {"dir": str(journal_dir), "fsync": "batch"},
        "market": {"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
        "execution": {"circuit_breakers": BREAKERS_OFF},
        "kite": {"api_key": "testkey", "root": sim.url, "ws_root": sim.ws_url, "timeout_seconds": 10.0,
                 "poll_interval_seconds": 0.05},
        "bus": {"backend": "nats", "nats": {"servers": [nats_url], "account": "acct1", "instance_id": "a",
                                            "lease_ttl_seconds": 2.0, "ack_wait_seconds": 3.0}},
    }  # fmt: skip
    return config_from_dict(data)


def buy(intent_id: str) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id)


def journaled_intents(journal_dir: Path) -> set[str]:
    [path] = journal_dir.glob("*.jsonl")
    return {r.ev.intent_id for r in read_journal(path).records if type(r.ev).__name__ == "OrderAccepted"}  # type: ignore[union-attr]


async def test_a_stopping_executor_takes_no_new_intents_while_its_live_orders_settle(
    tmp_path, nats_server, sim
):
    # every placement is held 1 s at the broker: the stop waits that long for the first one
    sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 1000}])
    config = live_nats_config(tmp_path / "j", sim, nats_server.url)
    async with RemoteExecution(nats_server.url, "acct1", timeout=10) as remote:
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        before = asyncio.create_task(remote.execute_intent(buy("before")))
        await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] >= 1), 5)
        sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 5000}])  # any later one
        stopping = asyncio.create_task(svc.stop())
        await asyncio.sleep(0)  # one turn: the stop has begun
        assert not svc._accepting
        await remote.js.publish(
            intents_subject("acct1", "s1"), encode_event(buy("during")), headers={MSG_ID_HEADER: "during"}
        )
        await asyncio.wait_for(stopping, 15)
        assert (await asyncio.wait_for(before, 5)).status == "PLACED"
        # the stopping executor neither journaled nor sent the intent that came during its stop ...
        assert journaled_intents(tmp_path / "j") == {"before"}
        assert sim.stats()["held_by_latency"] == 1
        # ... which the next executor takes and answers
        sim.set_faults()
        async with ExecutionService(config, clock=LiveClock(), access_token="token123"):
            during = await remote.execute_intent(buy("during"))
        assert during.status == "PLACED", during


async def test_a_standby_daemon_stops_on_the_first_sigterm(tmp_path, nats_server):
    """A standby waits inside the service's start for the lease, possibly all day; a SIGTERM there
    (systemctl stop, a deploy) only set the drain flag that the daemon reads once started, so it
    waited on, and took the account over when the active instance went away."""
    from execsvc.clock import ist_ns
    from execsvc.market.tick_writers import write_ticks
    from tests.integration.test_daemon import DAY, Console, write_config
    from tests.integration.test_nats import nats_config

    holder = ExecutionService(
        nats_config(tmp_path / "holder", nats_server.url, instance="holder"), clock=LiveClock()
    )
    write_ticks(
        tmp_path / "ticks.jsonl", [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ist_ns(DAY, 10, 0))]
    )
    config = write_config(
        tmp_path,
        bus={"backend": "nats", "nats": {"servers": [nats_server.url], "account": "acct1",
                                         "instance_id": "standby", "lease_ttl_seconds": 2.0}},
    )  # fmt: skip
    async with holder:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", "run", "--config", str(config), "--mode", "paper",
            "--ticks", str(tmp_path / "ticks.jsonl"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert proc.stderr is not None
        console = Console(proc.stderr)
        try:
            await console.wait_for("standby: lease")
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await console.task
    assert code == 0, "".join(console.lines[-20:])
    assert not list((tmp_path / "journal").glob("*.jsonl"))  # it never became the active instance


async def test_a_live_executor_reconciles_before_its_intake_takes_an_intent(tmp_path, nats_server, sim):
    """An intent left in the stream (a failover, a restart) is the next executor's first work; the
    intake started with the in-process bus, before reconciliation, so the intent was placed while
    reconcile read the broker's book, and its order, not in the book yet, was closed REJECTED
    'not placed' while its POST was on its way: the broker held an order the journal said was not."""
    config = live_nats_config(tmp_path / "j", sim, nats_server.url)
    async with RemoteExecution(nats_server.url, "acct1", timeout=10) as remote:
        async with ExecutionService(config, clock=LiveClock(), access_token="token123"):
            pass  # the streams exist; nobody executes now
        await remote.js.publish(
            intents_subject("acct1", "s1"), encode_event(buy("pending")), headers={MSG_ID_HEADER: "pending"}
        )
        sim.set_faults(
            latency_ms=[
                {"pattern": "/orders*", "method": "POST", "ms": 500},  # the placement is on its way ...
                {"pattern": "/portfolio/positions", "method": "GET", "ms": 300},  # ... while this is read
            ]
        )
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            result = await remote.execute_intent(buy("pending"))
            assert svc.reconciliation is not None and svc.reconciliation.orders_not_placed == []
    assert result.status == "PLACED", result


class LogLine(logging.Handler):
    """Sets ``seen`` when a record's message contains ``text`` (logged on the test's own loop)."""

    def __init__(self, text: str, seen: asyncio.Event) -> None:
        super().__init__()
        self.text, self.seen = text, seen

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_a_standby_waits_out_a_nats_outage_and_takes_the_lease_after_it(tmp_path, nats_server):
    """While NATS is down a standby's lease lookups time out (nats-py gives a request 5 s); the
    first timeout ended its start with 'nats: timeout', so a NATS restart left no standby behind
    the active instance, which rides the same outage out (Lease.hold retries while its lease is valid)."""
    from tests.integration.test_nats import nats_config

    holder = ExecutionService(
        nats_config(tmp_path / "h", nats_server.url, instance="holder"), clock=LiveClock()
    )
    standby = ExecutionService(
        nats_config(tmp_path / "s", nats_server.url, instance="standby"), clock=LiveClock()
    )
    waiting, retried = asyncio.Event(), asyncio.Event()
    handlers = [LogLine("standby: lease", waiting), LogLine("could not be read", retried)]
    lease_log = logging.getLogger("execsvc.lease")
    for handler in handlers:
        lease_log.addHandler(handler)
    await holder.start()
    starting = asyncio.create_task(standby.start())
    starting.add_done_callback(lambda _: retried.set())  # a start that ends wakes the test too
    try:
        await asyncio.wait_for(waiting.wait(), 10)
        await holder.kill()  # the holder is gone; its lease expires while NATS is down
        await nats_server.stop()
        await asyncio.wait_for(retried.wait(), 30)
        assert not starting.done(), f"the standby gave up: {starting.exception()!r}"
        await nats_server.start()
        await asyncio.wait_for(starting, 30)
        assert standby.bus_status()["lease"]["instance"] == "standby"
        await standby.stop()
    finally:
        for handler in handlers:
            lease_log.removeHandler(handler)
        if not starting.done():
            starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)


async def test_closing_while_nats_is_down_closes_the_connection(tmp_path, nats_server):
    """nats-py refuses to drain a connection that is reconnecting; close() logged that and left the
    connection as it was, reconnecting for good in tasks of its own after the service (or the
    producer) had ended, to come back one day with its subscriptions."""
    from tests.integration.test_nats import nats_config

    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    await svc.start()
    remote = RemoteExecution(nats_server.url, "acct1")
    await remote.__aenter__()
    await nats_server.stop()
    await svc.kill()
    await remote.__aexit__(None, None, None)
    assert isinstance(svc.bus, NatsBus) and svc.bus.nc.is_closed
    assert remote.nc.is_closed
