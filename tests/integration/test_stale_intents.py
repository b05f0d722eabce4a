"""An intent too old to place is REJECTED ``stale`` and placed nowhere (``execution.max_intent_age_seconds``).

On the paper path (its age at intake), on the live path (a placement that would queue for a
rate-limit slot past that age is not sent) and over NATS (a remote producer's intent is aged from
when it was sent, not from when an executor came back to the stream).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent, ReplayClock, Tick
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.journal.reader import read_journal
from execsvc.remote import RemoteExecution
from tests.conftest import OPEN_NS, SECOND, make_config, tick
from tests.integration.test_live_kite import live_config, placements_per_tag
from tests.integration.test_nats import nats_config, prime
from tests.unit.test_kite_ratelimit import JumpClock


def buy(intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, intent_id=intent_id, **kw)  # type: ignore[arg-type]


def events_of(journal_dir: Path) -> list[object]:
    return [r.ev for path in sorted(journal_dir.glob("*.jsonl")) for r in read_journal(path).records]


async def test_an_old_intent_is_rejected_stale_journaled_and_never_filled(journal_dir):
    clock = ReplayClock(OPEN_NS + 60 * SECOND)
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, clock.now_ns()))
        old = await svc.execute_intent(buy("old", ts_init=OPEN_NS + 29 * SECOND))  # 31 s old
        fresh = await svc.execute_intent(buy("fresh", ts_init=OPEN_NS + 31 * SECOND))  # 29 s old
        ahead = await svc.execute_intent(buy("ahead", ts_init=clock.now_ns() * 1000))
        again = await svc.execute_intent(buy("old", ts_init=clock.now_ns()))  # a retry: same answer
        positions = {(p.symbol, p.net_qty) for p in svc.positions()}
    assert (old.status, old.reject_reason, old.filled_qty) == ("REJECTED", "stale", 0)
    assert "31.000 s old" in (old.message or "") and "max_intent_age_seconds=30" in (old.message or "")
    assert fresh.status == "FILLED"
    assert (ahead.status, ahead.reject_reason) == ("REJECTED", "clock")
    assert again == old
    assert positions == {("NSE:INFY", 5)}, "only the fresh intent traded"
    kinds = Counter((type(e).__name__, getattr(e, "intent_id", None)) for e in events_of(journal_dir))
    assert kinds[("OrderIntent", "old")] == 1 and kinds[("OrderAccepted", "old")] == 0
    assert kinds[("ExecutionResult", "old")] == 1

    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 90 * SECOND)) as svc:
        after_restart = await svc.execute_intent(buy("old", ts_init=OPEN_NS + 89 * SECOND))
    assert after_restart == old, "a restart answers the repeat from the journal"


async def test_null_places_an_intent_of_any_age(journal_dir):
    clock = ReplayClock(OPEN_NS + 3600 * SECOND)
    config = make_config(journal_dir, execution={"max_intent_age_seconds": None})
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, clock.now_ns()))
        result = await svc.execute_intent(buy("hour-old", ts_init=OPEN_NS))
    assert result.status == "FILLED"


@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_live_order_that_would_queue_past_its_age_for_a_rate_limit_slot_is_not_sent(
    tmp_path, sim, dry_run
):
    config = live_config(tmp_path, sim, rate_limits={"orders_per_second": 2, "margin_seconds": 0.0})
    config = msgspec.structs.replace(
        config,
        execution=msgspec.structs.replace(config.execution, max_intent_age_seconds=0.5, dry_run=dry_run),
    )
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    limiter_clock = JumpClock(start=0.0)  # a wait for a slot jumps this clock, never sleeps
    svc.limiter = RateLimiter(config.kite.rate_limits, clock=limiter_clock, sleep=limiter_clock.sleep)
    async with svc:
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        results = await asyncio.wait_for(
            asyncio.gather(
                *(svc.execute_intent(buy(f"burst{n}", order_type="LIMIT", price=1400.0)) for n in range(4))
            ),
            10,
        )
    statuses = [(r.status, r.reject_reason) for r in results]
    assert statuses == [("PLACED", None)] * 2 + [("REJECTED", "stale")] * 2
    assert "not sent" in (results[2].message or "") and "max_intent_age_seconds=0.5" in (
        results[2].message or ""
    )
    sent = {} if dry_run else {tag_for("burst0"): 1, tag_for("burst1"): 1}
    assert placements_per_tag(sim) == sent
    assert limiter_clock.sleeps == [], "a slot it could not use was waited for"


class AheadClock(LiveClock):
    """The executor's clock a minute ahead: as if the intent sat in the stream that long."""

    def now_ns(self) -> int:
        return super().now_ns() + 60 * SECOND


@pytest.mark.timeout(120)
async def test_a_remote_intent_is_aged_from_when_it_was_sent(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url, max_age=30.0), clock=AheadClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=10) as remote:
        result = await remote.execute_intent(buy("late1"))
    assert (result.status, result.reject_reason) == ("REJECTED", "stale")
    intents = [e for e in events_of(tmp_path / "j") if type(e) is OrderIntent]
    assert [i.intent_id for i in intents] == ["late1"]
    assert result.ts_event - intents[0].ts_init > 59 * SECOND, "aged from when the producer sent it"


@pytest.mark.timeout(120)
async def test_a_raw_producers_intent_is_aged_from_when_the_stream_stored_it(tmp_path, nats_server):
    """A producer that publishes plain JSON without ``ts_init`` (not through ``RemoteExecution``):
    the stream's own time of the message is its age's start, not the executor's intake."""
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url, max_age=30.0), clock=AheadClock())
    prime(svc)
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=10) as remote:
        waiter = asyncio.get_running_loop().create_future()
        remote._waiters["raw1"] = [waiter]
        body = b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":1,"intent_id":"raw1"}'
        await remote.js.publish("execsvc.acct1.intents.s1", body, headers={"Nats-Msg-Id": "raw1"})
        result = await asyncio.wait_for(waiter, 10)
    assert (result.status, result.reject_reason) == ("REJECTED", "stale")
    intents = [e for e in events_of(tmp_path / "j") if type(e) is OrderIntent]
    assert [i.intent_id for i in intents] == ["raw1"]
    assert result.ts_event - intents[0].ts_init > 59 * SECOND
