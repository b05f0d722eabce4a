"""Paper mode on Kite's live ticks (no REST client, so no Kite session): a new token for the feed.

The ticker's handshake refused with HTTP 403 used to wait ``auth_retry_seconds`` (5 minutes) and
retry the same dead token for ever: `execsvc login` did nothing until a restart. It re-reads the
token file now, as the live session does. The feed is the service's own WebSocket
(``svc.feed``), which paper opens at its first subscription.
"""

from __future__ import annotations

import asyncio
import logging

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.auth import save_access_token
from tests.conftest import make_config
from tests.integration.test_live_kite import REPO, tick
from tests.integration.test_live_session_expiry import NO_ENV, Frames

OLD, NEW = "tok-AAAA-old-1111", "tok-BBBB-new-2222"


async def test_paper_on_kite_ticks_takes_a_new_token_from_the_file_after_a_403(tmp_path, sim, caplog):
    caplog.set_level(logging.DEBUG)
    config = make_config(
        tmp_path / "journal",
        market={"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
        feed={"tokens": [408065]},
        kite={
            "api_key": "testkey",
            "root": sim.url,
            "ws_root": sim.ws_url,
            "access_token_file": str(tmp_path / "secrets" / "kite_token"),
            "access_token_env": NO_ENV,
            "poll_interval_seconds": 0.05,
        },
    )
    save_access_token(config.kite, OLD)
    frames = Frames()
    async with ExecutionService(config, clock=LiveClock(), mode="paper") as svc:
        assert svc.feed.ticker is None  # paper opens no WebSocket until something is subscribed
        svc.feed.on_tick(lambda t: frames.on_ticks([t]))
        await svc.feed.subscribe([408065])
        ticker = svc.feed.ticker
        assert ticker is not None
        ticker.sleep = frames.sleep
        await asyncio.wait_for(ticker.connected.wait(), 5)
        sim.revoke_session()  # its socket is cut; the reconnect is refused
        await asyncio.wait_for(frames.slow_wait.wait(), 5)
        assert ticker.state == "session_expired"
        save_access_token(config.kite, NEW)  # `execsvc login`
        await frames.until(lambda: ticker.connects == 2)
        before = len(frames.ticks)
        sim.push_tick(tick(1495.0))
        await frames.until(lambda: len(frames.ticks) > before)  # subscribed again
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "re-read every" in errors[0]
    assert OLD not in caplog.text and NEW not in caplog.text
