"""A new Kite access token handed to a running embedded service by code (``set_access_token``).

The embedder passed the token in (``ExecutionService(access_token=...)``): no file to re-read, so
after a Kite web logout or the 6 AM expiry the service could only be restarted. Against the
simulator on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.errors import BrokerAuthError, ServiceError, ServiceNotRunningError
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder
from tests.conftest import make_config
from tests.integration.test_live_kite import REPO, Collector, intent, live_config, tick
from tests.integration.test_live_session_expiry import NO_ENV, Frames

OLD, NEW, WORSE = "tok-AAAA-old-1111", "tok-BBBB-new-2222", "tok-CCCC-bad-3333"


def config(tmp_path: Path, sim: object) -> object:
    return live_config(
        tmp_path / "journal",
        sim,  # type: ignore[arg-type]
        access_token_file=str(tmp_path / "no-such-token-file"),
        access_token_env=NO_ENV,
        websocket=False,  # the first test's own ticker stands for a runner's WebSocket
    )


async def test_a_token_handed_over_after_an_expiry_reconciles_and_trading_goes_on(tmp_path, sim, caplog):
    caplog.set_level(logging.DEBUG)
    async with ExecutionService(config(tmp_path, sim), clock=LiveClock(), access_token=OLD) as svc:  # type: ignore[arg-type]
        assert svc.kite_client is not None
        session = svc.kite_client.auth
        seen = Collector(svc)
        frames = Frames()
        ticker = KiteTickerClient(
            ws_root=sim.ws_url, api_key="testkey", access_token=OLD, tokens=[408065], mode="full",
            decoder=KiteDecoder(Instruments.from_csv(REPO / "data" / "sample" / "instruments.csv")),
            on_ticks=frames.on_ticks, now_ns=svc.clock.now_ns, heartbeat_timeout=5.0,
            sleep=frames.sleep, session=session,
        )  # fmt: skip
        feed = asyncio.create_task(ticker.run())
        try:
            await asyncio.wait_for(ticker.connected.wait(), 5)
            resting = await svc.execute_intent(intent("r1", order_type="LIMIT", price=1490.0))
            assert resting.status == "PLACED"
            sim.revoke_session()
            refused = await svc.execute_intent(intent("x1"))
            assert refused.reject_reason == "broker:TokenException" and session.state == "expired"
            await asyncio.wait_for(frames.slow_wait.wait(), 5)  # the ticker: refused, waiting
            assert "set_access_token" in (session.advice())
            sim.push_tick(tick(1489.0))  # filled while we are blind

            with pytest.raises(BrokerAuthError, match="cannot carry"):
                await svc.set_access_token("two\nlines")
            with pytest.raises(BrokerAuthError, match="refused this token already"):
                await svc.set_access_token(OLD)
            sim.revoke_session([WORSE])
            with pytest.raises(BrokerAuthError, match="refused the new token too"):
                await asyncio.wait_for(svc.set_access_token(WORSE), 5)
            assert session.state == "expired"

            assert await asyncio.wait_for(svc.set_access_token(NEW), 5) == "valid"
            await seen.until("r1", "FILLED")  # reconciled: the fill made while we were blind
            await asyncio.wait_for(ticker.connected.wait(), 5)  # the ticker took the new token
            assert ticker.connects == 2
            assert (await svc.execute_intent(intent("n1"))).status == "PLACED"
        finally:
            feed.cancel()
            await asyncio.wait([feed])
    assert set(sim.stats()["placements_per_tag"].values()) == {1}
    assert tag_for("x1") not in sim.stats()["placements_per_tag"]
    journal = next((tmp_path / "journal").glob("*.jsonl")).read_text()
    events = [json.loads(line)["ev"] for line in journal.splitlines()]
    sessions = [(e["state"], e["source"]) for e in events if e["type"] == "broker_session"]
    assert sessions == [("expired", "argument"), ("restored", "argument")]
    assert len([e for e in events if e["type"] == "reconciled"]) == 2  # at start-up, after the token
    for secret in (OLD, NEW, WORSE):
        assert secret not in caplog.text and secret not in journal


async def test_a_token_renewed_while_valid_is_used_from_then_on(tmp_path, sim, caplog):
    caplog.set_level(logging.DEBUG)
    async with ExecutionService(config(tmp_path, sim), clock=LiveClock(), access_token=OLD) as svc:  # type: ignore[arg-type]
        assert (await svc.execute_intent(intent("a1"))).status == "PLACED"
        assert await svc.set_access_token(NEW) == "valid"
        assert await svc.set_access_token(NEW) == "valid"  # the one in use: nothing to do
        sim.revoke_session([OLD])  # the old one dies: nothing notices
        assert (await svc.execute_intent(intent("a2"))).status == "PLACED"
        assert svc.kite_client is not None and svc.kite_client.auth.state == "valid"
    assert NEW not in caplog.text and OLD not in caplog.text


async def test_paper_and_a_stopped_service_refuse_a_token_clearly(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    with pytest.raises(ServiceNotRunningError, match="set_access_token"):
        await svc.set_access_token(NEW)
    async with svc:
        with pytest.raises(ServiceError, match="paper mode sends nothing to Kite"):
            await svc.set_access_token(NEW)
