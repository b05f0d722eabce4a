"""Login, the WebSocket client's reconnects, and recording, against the Kite simulator."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

from execsvc.clock import LiveClock
from execsvc.config import config_from_dict
from execsvc.executors.kite.auth import load_access_token, login
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.market.files import iter_frames, read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder
from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator

REPO = Path(__file__).resolve().parents[2]
INSTRUMENTS = Instruments.from_csv(REPO / "data" / "sample" / "instruments.csv")


def infy(price: float) -> Tick:
    return Tick(symbol="NSE:INFY", instrument_token=408065, last_price=price)


async def test_login_stores_a_0600_token_that_live_mode_then_reads(tmp_path, monkeypatch):
    async with KiteSimulator(api_secret="test_api_secret", require_api_key="test_api_key") as sim:
        config = config_from_dict(
            {
                "kite": {
                    "api_key": "test_api_key",
                    "root": sim.url,
                    "access_token_file": str(tmp_path / "secrets" / "kite_token"),
                    "access_token_env": "EXECSVC_TEST_NO_SUCH_VAR",
                }
            }
        )
        monkeypatch.setenv("KITE_API_SECRET", "test_api_secret")
        path = await asyncio.to_thread(login, config.kite, "test_request_token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = load_access_token(config.kite)
    assert token.reveal() and repr(token) == "***" and token.reveal() not in str(token)


class Stream:
    """Collects what the WebSocket client hands over, and lets a test await a count."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.frames: list[tuple[int, bytes]] = []
        self._changed = asyncio.Event()

    def on_ticks(self, ticks: list[Tick]) -> None:
        self.ticks.extend(ticks)
        self._changed.set()

    def on_frame(self, recv_ns: int, frame: bytes) -> None:
        self.frames.append((recv_ns, frame))

    async def until(self, predicate: Any, timeout: float = 10) -> None:
        async def wait() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)


async def test_the_websocket_client_reconnects_resubscribes_and_counts_disconnects(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(infy(1500.0))
        stream = Stream()
        client = KiteTickerClient(
            ws_root=sim.ws_url,
            api_key="k",
            access_token="secret-token-123",
            tokens=[408065],
            mode="full",
            decoder=KiteDecoder(INSTRUMENTS),
            on_ticks=stream.on_ticks,
            on_frame=stream.on_frame,
            now_ns=LiveClock().now_ns,
            heartbeat_timeout=2.0,
            backoff_initial=0.01,
        )
        runner = asyncio.ensure_future(client.run())
        try:
            await asyncio.wait_for(client.connected.wait(), 10)
            sim.push_tick(infy(1501.0))
            await stream.until(lambda: any(t.last_price == 1501.0 for t in stream.ticks))
            assert sim.disconnect_websockets() == 1
            await stream.until(lambda: client.disconnects >= 1 and client.connected.is_set())
            sim.push_tick(infy(1502.5))  # delivered only if the client subscribed again
            await stream.until(lambda: any(t.last_price == 1502.5 for t in stream.ticks))
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert client.connects >= 2 and client.disconnects >= 1
    assert "secret-token-123" not in repr(client)
    full = next(t for t in stream.ticks if t.last_price == 1502.5)
    assert full.symbol == "NSE:INFY" and full.mode == "full"

    # what `execsvc record` writes (recv_ns + frame records) replays to the same ticks
    from execsvc.market.tick_writers import open_writer

    path = tmp_path / "recorded.kite.gz"
    writer = open_writer(path, mode=None)
    for recv_ns, frame in stream.frames:
        writer.write_frame(recv_ns, frame)
    writer.close()
    assert [ns for ns, _ in iter_frames(path)] == [ns for ns, _ in stream.frames]
    replayed = [t.last_price for t in read_ticks(path, instruments=INSTRUMENTS)]
    assert replayed == [t.last_price for t in stream.ticks]


async def test_the_websocket_client_keeps_the_token_out_of_its_log_lines(caplog):
    """A refused handshake (aiohttp quotes the URL) and a broker error text that echoes the token."""
    from aiohttp import web

    token = "secret-token-123"

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("refuse"):
            return web.Response(status=403, text=f"bad access_token {token}")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "error", "data": f"token k:{token} has expired"})
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        for root in (f"ws://127.0.0.1:{port}/?refuse=1&x=", f"ws://127.0.0.1:{port}"):
            reconnecting = asyncio.Event()

            async def note_reconnect(delay: float, reconnecting: asyncio.Event = reconnecting) -> None:
                reconnecting.set()
                await asyncio.Event().wait()  # hold here until cancelled

            client = KiteTickerClient(
                ws_root=root, api_key="k", access_token=token, tokens=[], decoder=KiteDecoder(INSTRUMENTS),
                on_ticks=lambda ticks: None, now_ns=LiveClock().now_ns, sleep=note_reconnect,
            )  # fmt: skip
            task = asyncio.ensure_future(client.run())
            try:
                await asyncio.wait_for(reconnecting.wait(), 10)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        await runner.cleanup()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("execsvc"))
    assert "websocket disconnected" in ours and "error message from the broker" in ours
    assert token not in ours  # (the test server's own access log does show it)


async def test_record_into_json_lines_names_each_tick_from_the_instruments_file(tmp_path, monkeypatch):
    """`execsvc record --out FILE.jsonl` wrote ticks named ``TOKEN:408065``: the writer was not
    given the config's instruments, so the symbols a replay needs were lost."""
    from execsvc.cli import _record, build_parser

    monkeypatch.setenv("KITE_ACCESS_TOKEN", "secret-token-123")
    async with KiteSimulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(
            f"kite: {{api_key: sim, root: '{sim.url}', ws_root: 'ws://{sim.host}:{sim.port}'}}\n"
            f"market: {{instruments_file: '{REPO / 'data' / 'sample' / 'instruments.csv'}'}}\n"
        )
        out = tmp_path / "rec.jsonl"
        args = build_parser().parse_args(
            ["record", "--config", str(config), "--out", str(out), "--tokens", "408065", "--duration", "1.5"]
        )

        sim.push_tick(infy(1500.0))  # sent as the snapshot when the recorder subscribes
        assert await _record(args) == 0
    recorded = list(read_ticks(out))
    assert recorded and {t.symbol for t in recorded} == {"NSE:INFY"}


async def test_the_websocket_client_skips_text_it_cannot_read_and_keeps_the_connection(caplog):
    """Text nested past the parser, with an integer past 4300 digits or a lone surrogate is skipped;
    the feed goes on."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("[" * 100_000)
        await ws.send_str('{"type": "order", "data": {"quantity": ' + "9" * 5000 + "}}")
        # a lone surrogate: no UTF-8 journal record could hold it (nor does the REST path read it)
        await ws.send_str('{"type": "order", "data": {"order_id": "1", "status_message": "\\ud800"}}')
        await ws.send_json({"type": "order", "data": {"order_id": "1", "status": "OPEN"}})
        await ws.receive()  # held open until the client goes
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client = KiteTickerClient(
        ws_root=f"ws://127.0.0.1:{port}", api_key="k", access_token="t", tokens=[],
        decoder=KiteDecoder(INSTRUMENTS), on_ticks=lambda ticks: None, on_order=updates.put,
        now_ns=LiveClock().now_ns,
    )  # fmt: skip
    task = asyncio.ensure_future(client.run())
    got = asyncio.ensure_future(updates.get())
    try:  # the client's task ending first (a message that killed it) fails at once
        await asyncio.wait({task, got}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert not task.done(), task.exception()
        update = got.result()
    finally:
        got.cancel()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
    assert update == {"order_id": "1", "status": "OPEN"}
    assert client.connects == 1 and client.disconnects == 0
    skipped = [r.getMessage() for r in caplog.records if "non-JSON text message ignored" in r.getMessage()]
    assert len(skipped) == 3
