"""Over NATS the square-off mark is a message header: only the executor's own square-off has it.

A producer that set ``Execsvc-Square-Off: 1`` on its own reducing intent got the service's
square-off privilege: through a halt, the throttles and the order-value cap. Now the mark counts
only on a closing intent the engine made itself (``Engine.square_off_ids``).
"""

from __future__ import annotations

import asyncio

import pytest

from execsvc import ExecutionService
from execsvc.bus.subjects import MSG_ID_HEADER, SQUARE_OFF_HEADER
from execsvc.clock import LiveClock
from execsvc.journal.codec import encode_event
from execsvc.remote import RemoteExecution
from tests.integration.test_nats import intent, nats_config, prime

pytestmark = pytest.mark.timeout(120)


async def test_a_producers_square_off_header_does_not_pass_a_halt(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=10) as remote:
        opened = await svc.execute_intent(intent("open1", product="MIS", qty=2))
        await svc.halt("risk desk", by="test")
        answer = asyncio.get_running_loop().create_future()
        remote._waiters["sneak1"] = [answer]
        sneak = intent("sneak1", product="MIS", side="SELL", qty=1)
        await remote.js.publish(
            "execsvc.acct1.intents.s1",
            encode_event(sneak),
            headers={MSG_ID_HEADER: "sneak1", SQUARE_OFF_HEADER: "1"},
        )
        sneaked = await asyncio.wait_for(answer, 10)
        closing = await asyncio.wait_for(svc.square_off("s1", reason="flat before the close", by="test"), 10)
        positions = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        left = set(svc.engine.square_off_ids)
    assert opened.status == "FILLED"
    assert (sneaked.status, sneaked.reject_reason) == ("REJECTED", "breaker:halted")
    assert [(r.status, r.side, r.qty) for r in closing] == [("FILLED", "SELL", 2)], "its own still passes"
    assert positions == [] and left == set()
