"""The Kite session revoked while the live service runs (a Kite web logout, the 6 AM expiry).

Against the simulator on an ephemeral port: the session's state is visible, intents are refused at
once with the reason, nothing is sent twice, an order whose placement answer was lost during the
revocation is resolved after the new token, the ticker waits for the new token and subscribes
again, and no token reaches a log line, the journal or the status.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.control.views import broker_session
from execsvc.executors.kite.auth import save_access_token
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder
from execsvc.market.ticks import Tick
from execsvc.metrics import ServiceMetrics
from execsvc.sim import KiteSimulator
from tests.integration.test_live_kite import REPO, Collector, intent, live_config, tick

OLD, NEW, WORSE = "tok-AAAA-old-1111", "tok-BBBB-new-2222", "tok-CCCC-bad-3333"
NO_ENV = "EXECSVC_TEST_NO_SUCH_TOKEN_VAR"


def config_with_file(tmp_path: Path, sim: KiteSimulator, **kite: Any) -> Any:
    return live_config(
        tmp_path / "journal",
        sim,
        access_token_file=str(tmp_path / "secrets" / "kite_token"),
        access_token_env=NO_ENV,
        **kite,
    )


class Frames:
    """What the ticker hands over, with a way to await it."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.changed = asyncio.Event()
        self.sleeps: list[float] = []
        self.slow_wait = asyncio.Event()

    def on_ticks(self, ticks: list[Tick]) -> None:
        self.ticks.extend(ticks)
        self.changed.set()

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def sleep(self, seconds: float) -> None:
        # the ticker's waits: recorded; a long one (the slow retry) lasts until cancelled
        self.sleeps.append(seconds)
        if seconds > 1:
            self.slow_wait.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0)


async def test_a_revoked_session_refuses_intents_waits_and_recovers_on_a_new_token(tmp_path, sim, caplog):
    caplog.set_level(logging.DEBUG)
    # the test's own ticker stands for a runner's WebSocket: the service opens none of its own
    # (test_embedded_websocket.py has the service's own through the same expiry)
    config = config_with_file(
        tmp_path, sim, unknown_check_delays=[0.2, 0.2], unknown_give_up_seconds=1.0, websocket=False
    )
    save_access_token(config.kite, OLD)
    async with ExecutionService(config, clock=LiveClock()) as svc:
        assert svc.kite_client is not None
        session = svc.kite_client.auth
        seen = Collector(svc)
        frames = Frames()
        ticker = KiteTickerClient(
            ws_root=sim.ws_url,
            api_key="testkey",
            access_token=OLD,
            tokens=[408065],
            mode="full",
            decoder=KiteDecoder(Instruments.from_csv(REPO / "data" / "sample" / "instruments.csv")),
            on_ticks=frames.on_ticks,
            now_ns=svc.clock.now_ns,
            heartbeat_timeout=5.0,
            sleep=frames.sleep,
            session=session,
        )
        feed = asyncio.create_task(ticker.run())
        try:
            await asyncio.wait_for(ticker.connected.wait(), 5)
            await frames.until(lambda: len(frames.ticks) >= 1)  # the subscription's snapshot

            resting = await svc.execute_intent(intent("r1", order_type="LIMIT", price=1490.0))
            assert resting.status == "PLACED"

            # the placement is taken, its answer lost, and the session revoked before any lookup
            sim.set_faults(drop_after_accept={"count": 1})
            placing = asyncio.ensure_future(svc.execute_intent(intent("u1")))
            await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["placements"] >= 2), 5)
            assert sim.revoke_session() == 1
            assert (await asyncio.wait_for(placing, 5)).status == "UNKNOWN"
            await asyncio.wait_for(session.wait_state("expired"), 5)
            await asyncio.wait_for(frames.slow_wait.wait(), 5)  # the ticker: refused, waiting
            assert ticker.state == "session_expired"

            # visible: status, readiness, metrics
            status = broker_session(svc)
            assert status is not None and status["state"] == "expired"
            assert "execsvc login" in status["action"] and "re-reads it" in status["action"]
            metrics = ServiceMetrics(svc)
            try:
                text = metrics.registry.render()
            finally:
                metrics.close()
            assert "execsvc_broker_session_valid 0" in text
            assert "execsvc_broker_session_expirations_total 1" in text

            # a new intent: refused at once, with the reason, and nothing sent
            sent_before = sim.stats()["placements"]
            refused = await asyncio.wait_for(svc.execute_intent(intent("n1")), 1)
            assert refused.status == "REJECTED" and refused.reject_reason == "session_expired"
            assert "execsvc login" in (refused.message or "")
            # a cancel: answered, it cannot reach the broker
            answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 2)
            assert "not sent" in (answer.message or "") and "session expired" in (answer.message or "")
            assert sim.stats()["placements"] == sent_before and sim.stats()["cancellations"] == 0

            # while we are blind the broker fills the resting order
            sim.push_tick(tick(1489.0))
            assert [o["status"] for o in sim.orders() if o["tag"] == tag_for("r1")] == ["COMPLETE"]
            await sim_quiet(svc)  # a few poll intervals: the poller and the lookups rest
            assert not any(r.intent_id == "u1" and r.status == "REJECTED" for r in seen.results)
            assert not svc.halted

            # `execsvc login` writes a new token: picked up, reconciled, back to normal
            save_access_token(config.kite, NEW)
            await asyncio.wait_for(session.wait_state("valid"), 5)
            await seen.until("r1", "FILLED")  # filled while we were blind: reconciled
            found = await seen.until("u1", "FILLED")  # the lost placement: found by its tag
            assert found.filled_qty == 5
            await asyncio.wait_for(ticker.connected.wait(), 5)
            assert ticker.connects == 2
            ticks_before = len(frames.ticks)
            sim.push_tick(tick(1495.0))
            await frames.until(lambda: len(frames.ticks) > ticks_before)  # resubscribed
            placed = await svc.execute_intent(intent("n2"))
            assert placed.status == "PLACED"
            assert broker_session(svc)["state"] == "valid"  # type: ignore[index]
        finally:
            feed.cancel()
            await asyncio.wait([feed])

    # no second broker order for any intent; the dead token was refused on the WebSocket once
    assert set(sim.stats()["placements_per_tag"].values()) == {1}
    assert sim.stats()["ws_token_refused"] == 1
    assert 300.0 in frames.sleeps  # the slow retry, not the reconnect back-off
    # one ERROR for the expiry, and no storm of failed polls or lookups
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "execsvc login" in errors[0].getMessage()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert not [m for m in warnings if "poll failed" in m or "lookup for" in m]
    # the journal tells the story; no token anywhere
    journal = next((tmp_path / "journal").glob("*.jsonl")).read_text()
    events = [json.loads(line)["ev"] for line in journal.splitlines()]
    sessions = [e for e in events if e["type"] == "broker_session"]
    assert [e["state"] for e in sessions] == ["expired", "restored"]
    assert sessions[0]["source"] == "file"
    reconciled = [e for e in events if e["type"] == "reconciled"]
    assert len(reconciled) == 2  # at start-up, and after the new token
    for secret in (OLD, NEW):
        assert secret not in caplog.text and secret not in journal
        assert secret not in repr(session) and secret not in json.dumps(status)


async def test_a_token_from_the_environment_cannot_change_and_the_error_says_so(
    tmp_path, sim, caplog, monkeypatch
):
    monkeypatch.setenv("EXECSVC_TEST_ENV_TOKEN", OLD)
    config = live_config(
        tmp_path / "journal",
        sim,
        access_token_file=str(tmp_path / "secrets" / "kite_token"),
        access_token_env="EXECSVC_TEST_ENV_TOKEN",
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        assert svc.kite_client is not None
        session = svc.kite_client.auth
        sim.revoke_session()
        first = await svc.execute_intent(intent("e1"))
        assert first.status == "REJECTED" and first.reject_reason == "broker:TokenException"
        assert session.state == "expired" and session.source == "env"
        refused = await svc.execute_intent(intent("e2"))
        assert refused.reject_reason == "session_expired"
        assert "$EXECSVC_TEST_ENV_TOKEN" in (refused.message or "") and "restart" in (refused.message or "")
        save_access_token(config.kite, NEW)  # a file the environment overrides: not taken
        before = sim.stats()["requests"]["other"]
        await sim_quiet(svc)
        assert session.state == "expired" and sim.stats()["requests"]["other"] == before
    assert OLD not in caplog.text and NEW not in caplog.text


async def test_a_new_token_refused_too_is_said_once_and_the_next_one_works(tmp_path, sim, caplog):
    config = config_with_file(tmp_path, sim)
    save_access_token(config.kite, OLD)
    async with ExecutionService(config, clock=LiveClock()) as svc:
        assert svc.kite_client is not None
        session = svc.kite_client.auth
        sim.revoke_session()
        await svc.execute_intent(intent("b1"))
        assert session.state == "expired"
        sim.revoke_session([WORSE])  # a token that will not work either (logged out already)
        save_access_token(config.kite, WORSE)
        await asyncio.wait_for(session.wait_state("restoring"), 5)
        await asyncio.wait_for(session.wait_state("expired"), 5)
        await sim_quiet(svc)  # the refused token is not tried again
        assert sim.stats()["token_refused"] == 2
        save_access_token(config.kite, NEW)
        await asyncio.wait_for(session.wait_state("valid"), 5)
        assert (await svc.execute_intent(intent("b2"))).status == "PLACED"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "refused too" in errors[1]
    assert all(t not in caplog.text for t in (OLD, NEW, WORSE))


async def test_the_simulator_revokes_sessions_over_its_admin_api(sim):
    headers = {"X-Kite-Version": "3", "Authorization": f"token k:{OLD}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/orders", headers=headers) as resp:
            assert resp.status == 200
        async with http.post(f"{sim.url}/_admin/session", json={"revoke": "all"}) as resp:
            assert await resp.json() == {"revoked": 1}
        async with http.get(f"{sim.url}/orders", headers=headers) as resp:
            assert resp.status == 403 and (await resp.json())["error_type"] == "TokenException"
        async with http.get(
            f"{sim.url}/orders", headers={**headers, "Authorization": f"token k:{NEW}"}
        ) as resp:
            assert resp.status == 200  # a new login works
    assert sim.stats()["sessions_revoked"] == 1 and sim.stats()["token_refused"] == 1


async def sim_quiet(svc: ExecutionService, passes: int = 4) -> None:
    """Let the session watch run a few times (it re-reads the token file every poll interval)."""
    interval = svc.config.kite.poll_interval_seconds
    for _ in range(passes):
        await asyncio.sleep(interval)


async def test_an_unknown_placement_the_broker_never_took_is_given_up_by_its_lookups_after_the_new_token(
    tmp_path, sim
):
    # a 503 before the order was placed: unknown outcome; the reconciliation after the new token
    # must leave it to its lookups (not close it as "the service stopped"), and it is never resent
    config = config_with_file(tmp_path, sim, unknown_check_delays=[0.2], unknown_give_up_seconds=0.3)
    save_access_token(config.kite, OLD)
    async with ExecutionService(config, clock=LiveClock()) as svc:
        assert svc.kite_client is not None
        session = svc.kite_client.auth
        seen = Collector(svc)
        sim.set_faults(http_5xx=[{"pattern": "/orders/*", "method": "POST", "status": 503}])
        assert (await svc.execute_intent(intent("g1"))).status == "UNKNOWN"
        sim.revoke_session()
        await asyncio.wait_for(session.wait_state("expired"), 5)  # its first lookup: 403
        save_access_token(config.kite, NEW)
        await asyncio.wait_for(session.wait_state("valid"), 5)
        given_up = await seen.until("g1", "REJECTED")
        assert given_up.reject_reason == "broker:not_found"
    assert tag_for("g1") not in sim.stats()["placements_per_tag"]
