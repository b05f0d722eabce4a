"""The journal writer awaits bus publishing inside ``on_durable``: a results subscriber that waits
for an answer while its queue is full stalls the writer, so that answer is never made durable."""

from __future__ import annotations

import asyncio

from execsvc import ExecutionService, OrderIntent
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def buy(intent_id: str) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id)


async def test_result_subscriber_awaiting_an_answer_does_not_stall_the_journal(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir, bus={"queue_size": 1}), clock=clock)
    await svc.start()
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        answered = asyncio.Event()

        async def on_result(result):
            if result.intent_id == "A1":  # e.g. place a protective order after a fill
                await svc.execute_intent(buy("B"))
                answered.set()

        svc.on_result(on_result, name="follow-up")
        for n in (1, 2, 3):
            await svc.submit(buy(f"A{n}"))
        # B is handled and journaled at once; its answer needs one more commit, which never comes:
        # the writer sits in on_durable -> Answers.release -> bus.publish on the full queue
        await asyncio.wait_for(answered.wait(), 3)
    finally:
        await svc.kill()
