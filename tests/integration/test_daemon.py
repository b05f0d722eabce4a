"""The daemon as a subprocess: square-off on the replay clock, SIGTERM, restart against the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.inspect import fold_file, verify_file
from execsvc.market.tick_writers import write_ticks
from execsvc.sim import KiteSimulator
from tests.conftest import make_config
from tests.jumping_clock import JumpingClock

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 20)
SECOND = 1_000_000_000


class BuyOnce:
    """Buys 10 MIS on its first tick, and nothing else (for the square-off test)."""

    strategy_code = "B1"

    def __init__(self) -> None:
        self.done = False

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if not self.done:
            self.done = True
            ctx.submit(
                OrderIntent(
                    symbol=tick.symbol, strategy_code="B1", side="BUY", qty=10, intent_id=ctx.next_intent_id()
                )
            )

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


def write_config(tmp: Path, **sections: Any) -> Path:
    data: dict[str, Any] = {
        "journal": {"dir": str(tmp / "journal")},
        "market": {"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
        "charges": {"rates_file": str(REPO / "configs" / "charges.yaml")},
        "session": {"holidays_file": str(REPO / "configs" / "holidays-2026.yaml")},
        # null: a live daemon serves until signalled, whatever the time of day the test runs at
        "daemon": {
            "logs_dir": str(tmp / "logs"),
            "state_dir": str(tmp / "state"),
            "after_close_seconds": None,
        },
        "control": {"port": 0},
    }
    data.update(sections)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def run_daemon(*args: str, log: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """Start ``execsvc run``; its console log goes to ``log`` (a file: a pipe nobody reads could fill)."""
    with open(log, "ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", "run", *args,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )  # fmt: skip


async def test_paper_daemon_squares_off_mis_at_the_configured_time_on_the_replay_clock(tmp_path):
    ticks = [
        Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0 + i * 0.05,
             ts_event=ist_ns(DAY, 15, 10) + i * 10 * SECOND)
        for i in range(90)  # 15:10:00 to 15:24:50
    ]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path)
    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(tmp_path / "ticks.jsonl"),
        "--speed", "100000", "--strategy", "tests.integration.test_daemon:BuyOnce", "--exit-at-end",
        log=tmp_path / "console.log",
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (tmp_path / "console.log").read_text()[-2000:]
    path = tmp_path / "journal" / f"{DAY.isoformat()}.jsonl"
    verify_file(path)
    events = [json.loads(line)["ev"] for line in path.read_text().splitlines()]
    square = [e for e in events if e["type"] == "square_off"]
    assert len(square) == 1 and square[0]["by"] == "session"
    assert square[0]["ts_event"] >= ist_ns(DAY, 15, 15) and square[0]["ts_event"] < ist_ns(DAY, 15, 15, 10)
    closing = [e for e in events if e["type"] == "fill" and e["side"] == "SELL"]
    assert len(closing) == 1 and closing[0]["qty"] == 10
    state = fold_file(path)
    assert all(p.net_qty == 0 for p in state.positions.values())
    assert (tmp_path / "state" / f"{DAY.isoformat()}.json").exists()
    assert b"live page and control API at http://127.0.0.1:" in out


async def test_orders_outside_the_session_are_refused_unless_amo(tmp_path):
    calendar = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
    cases = [
        (ist_ns(dt.date(2026, 11, 21), 11, 0), "weekend"),  # a Saturday
        (ist_ns(dt.date(2026, 1, 26), 11, 0), "holiday"),  # Republic Day
        (ist_ns(DAY, 8, 30), "before the open"),
    ]
    for ts, label in cases:
        clock = ReplayClock(ts)
        async with ExecutionService(make_config(tmp_path / label), clock=clock) as svc:
            svc.engine.calendar = calendar
            await svc.on_tick(Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ts))
            refused = await svc.execute_intent(
                OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=1, intent_id="r")
            )
            amo = await svc.execute_intent(
                OrderIntent(
                    symbol="NSE:INFY", strategy_code="s", side="BUY", qty=1, intent_id="a", variety="amo"
                )
            )
        assert (refused.status, refused.reject_reason) == ("REJECTED", "session"), label
        assert "amo" in (refused.message or ""), label
        assert amo.reject_reason != "session", label


async def test_live_daemon_sigterm_mid_session_restart_and_the_books_agree(tmp_path):
    sample = REPO / "data" / "sample" / "ticks.kite.gz"
    async with KiteSimulator(ticks_file=str(sample), speed=400.0, heartbeat_seconds=0.2) as sim:
        config = write_config(
            tmp_path,
            mode="live",
            session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False,
                     "square_off": False},
            kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/"),
                  "poll_interval_seconds": 0.2, "unknown_check_delays": [0.05, 0.1, 0.2]},
            feed={"tokens": [408065, 779521], "mode": "full"},
            strategies=[{"spec": "execsvc.strategies.samples:MovingAverageCross",
                         "params": {"fast": 3, "slow": 8, "qty": 5, "strategy_code": "MAX"}}],
            execution={"circuit_breakers": {"max_loss_streak": None, "max_daily_loss_rupees": None,
                                            "max_daily_drawdown_pct": None}},
        )  # fmt: skip
        env = {"KITE_ACCESS_TOKEN": "sim-token-123456"}
        console = tmp_path / "console.log"
        first = await run_daemon("--config", str(config), env=env, log=console)
        # trade until a few orders went out, then ask it to stop

        def some_orders(n: int) -> Callable[[], bool]:
            return lambda: sim.stats()["placements"] >= n

        await asyncio.wait_for(sim.wait_until(some_orders(3)), 60)
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.communicate(), 60)
        assert first.returncode == 0, console.read_text()[-3000:]
        placed_before = sim.stats()["placements"]

        second = await run_daemon("--config", str(config), env=env, log=console)
        await asyncio.wait_for(sim.wait_until(some_orders(placed_before + 3)), 60)
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 0, console.read_text()[-3000:]

        # let the last orders settle at the simulator, then compare books
        [path] = list((tmp_path / "journal").glob("*.jsonl"))
        verify_file(path)
        state = fold_file(path)
        tags = {oid for oid in state.orders}
        broker = {o["tag"]: o for o in sim.orders() if o.get("tag")}
        assert set(sim.stats()["placements_per_tag"]) - {""} == tags  # every journaled order reached it once
        assert all(count == 1 for tag, count in sim.stats()["placements_per_tag"].items() if tag)
        for tag, record in state.orders.items():
            assert record.broker_order_id == broker[tag]["order_id"]
            if broker[tag]["status"] == "COMPLETE":
                assert record.filled_qty == broker[tag]["filled_quantity"]
        ours: dict[str, int] = {}
        for pos in state.positions.values():
            ours[pos.symbol] = ours.get(pos.symbol, 0) + pos.net_qty
        async with __import__("execsvc.executors.kite.client", fromlist=["KiteRestClient"]).KiteRestClient(
            api_key="simkey", access_token="sim-token-123456", root=sim.url
        ) as client:
            positions = await client.positions()
        theirs = {f"{p.exchange}:{p.tradingsymbol}": p.quantity for p in positions["net"]}
        assert {k: v for k, v in ours.items() if v} == {k: v for k, v in theirs.items() if v}
        log_text = console.read_text()
        assert log_text.count("execsvc started: mode=live") == 2
        assert "draining" in log_text and "Traceback" not in log_text
        assert sim.stats()["placements"] >= placed_before + 3 >= 6


class Console:
    """Reads a daemon's console log as it comes and lets a test await a line."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace"))
            self._changed.set()
        self._changed.set()

    async def wait_for(self, text: str, timeout: float = 30) -> str:
        async def find() -> str:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if text in line:
                        return line
                seen = len(self.lines)
                if self.task.done():
                    raise AssertionError(f"the daemon ended before {text!r}: {''.join(self.lines[-20:])}")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)


async def test_sighup_reloads_limits_and_sigterm_stops_with_a_clean_journal(tmp_path):
    ticks = [
        Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0,
             ts_event=ist_ns(DAY, 10, 0) + i * SECOND)
        for i in range(3600)
    ]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path, execution={"circuit_breakers": {"max_trades_per_day": 100}})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "execsvc", "run", "--config", str(config), "--mode", "paper",
        "--ticks", str(tmp_path / "ticks.jsonl"), "--speed", "1",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.stderr is not None
    console = Console(proc.stderr)
    try:
        await console.wait_for("execsvc started")
        config.write_text(config.read_text().replace("max_trades_per_day: 100", "max_trades_per_day: 7"))
        proc.send_signal(signal.SIGHUP)
        await console.wait_for("breaker limits changed by signal")
        proc.send_signal(signal.SIGTERM)
        await console.wait_for("draining")
        proc.send_signal(signal.SIGTERM)  # a second one during the drain would exit at once
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await console.task
    path = tmp_path / "journal" / f"{DAY.isoformat()}.jsonl"
    verify_file(path)  # a journal that restarts cleanly, whatever the second signal interrupted
    changes = [json.loads(line)["ev"] for line in path.read_text().splitlines() if '"limits_changed"' in line]
    assert len(changes) == 1 and changes[0]["limits"]["max_trades_per_day"] == 7
    assert changes[0]["by"] == "signal" and "SIGHUP" in changes[0]["reason"]
    assert code in (0, 1)


async def test_the_original_run_day_command_is_an_alias_of_execsvc_run(tmp_path):
    ticks = [
        Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0,
             ts_event=ist_ns(DAY, 10, 0) + i * SECOND)
        for i in range(20)
    ]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.run_day", "--mode", "paper", "--engines", "all",
        "--config", str(config), "--ticks", str(tmp_path / "ticks.jsonl"), "--speed", "100000",
        "--exit-at-end",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert b"live page and control API" in out and b"state snapshot" in out
    verify_file(tmp_path / "journal" / f"{DAY.isoformat()}.jsonl")


async def test_a_second_signal_during_the_drain_exits_at_once_with_a_journal_that_restarts(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.2) as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        # every placement hangs at the broker for 20 s: the drain would wait for it
        sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 20000}])
        config = write_config(
            tmp_path,
            mode="live",
            session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False,
                     "square_off": False},
            kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/"),
                  "timeout_seconds": 30.0, "poll_interval_seconds": 5.0},
            feed={"tokens": [408065], "mode": "full"},
            strategies=[{"spec": "tests.integration.test_daemon:BuyOnce", "params": {}}],
        )  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "KITE_ACCESS_TOKEN": "sim-token-123456"},
        )  # fmt: skip
        assert proc.stderr is not None
        console = Console(proc.stderr)
        try:
            await console.wait_for("execsvc started")

            # written ahead (before it left) and on its way: the broker holds the request for 20 s
            await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] >= 1), 30)
            proc.send_signal(signal.SIGTERM)
            await console.wait_for("draining")
            started = asyncio.get_running_loop().time()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 15)
            took = asyncio.get_running_loop().time() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await console.task
    assert code == 1 and took < 10  # far less than the 20 s the drain would have waited
    [path] = list((tmp_path / "journal").glob("*.jsonl"))
    verify_file(path)
    state = fold_file(path)
    assert len(state.orders) == 1 and next(iter(state.orders.values())).working  # written ahead, still open


async def test_a_failing_side_job_is_logged_and_run_cancels_the_rest(tmp_path, capsys):
    from execsvc.cli import build_parser
    from execsvc.daemon import Daemon

    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ist_ns(DAY, 10, 0))]
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    args = build_parser().parse_args([
        "run", "--config", str(write_config(tmp_path)), "--mode", "paper",
        "--ticks", str(tmp_path / "ticks.jsonl"), "--exit-at-end", "--control-port", "0",
    ])  # fmt: skip
    timers: list[asyncio.Task[None]] = []
    never = asyncio.Event()  # never set: the stand-in timer is still pending when the feed ends

    class WithSideJobs(Daemon):
        def _strategies(self) -> list[Any]:  # runs inside run(), before the feed starts
            async def fails() -> None:
                raise RuntimeError("boom")

            async def timer() -> None:
                await never.wait()

            self._side_job(fails(), "a reload")
            self._side_job(timer(), "a square-off timer")
            timers.extend(job for job in self._side_jobs if job.get_name() == "a square-off timer")
            return []

    daemon = WithSideJobs(args)
    code = await asyncio.wait_for(daemon.run(), 30)
    assert code == 0
    assert "a reload failed: boom" in capsys.readouterr().err  # the daemon logs to the console
    assert len(timers) == 1 and timers[0].cancelled()  # ended by run(), not left behind
    assert not daemon._side_jobs


@pytest.mark.parametrize(("after_close", "stops"), [(0, True), (None, False)])
async def test_a_live_daemon_started_after_the_close_stops_unless_after_close_is_null(after_close, stops):
    """At 23:59 IST every session of the day is over: a live daemon stops at once, unless
    ``daemon.after_close_seconds`` is null (serving until signalled, e.g. against the simulator)."""
    from execsvc.daemon_timers import stop_after_the_close

    stop = asyncio.Event()
    calendar = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
    clock = JumpingClock(ist_ns(DAY, 23, 59))  # a live clock that moves only when told
    await asyncio.wait_for(stop_after_the_close(clock, calendar, after_close, stop), 5)
    assert stop.is_set() is stops


async def test_the_simulator_rehearsal_config_serves_at_any_hour():
    """``configs/sim.yaml`` rehearses a live day against ``execsvc kite-sim``, which trades at any
    hour (README, The Kite simulator): it serves until signalled. With the default
    ``daemon.after_close_seconds`` a rehearsal started after MCX's close stopped at once."""
    from execsvc.cli import build_parser
    from execsvc.daemon import Daemon

    args = build_parser().parse_args(["run", "--config", str(REPO / "configs" / "sim.yaml")])
    daemon = Daemon(args, clock=JumpingClock(ist_ns(DAY, 23, 59)))
    calendar = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
    await asyncio.wait_for(daemon._session_close(calendar), 5)
    assert not daemon.stop_requested.is_set()


class RaisesOnTick:
    """A strategy with a bug: its first tick raises."""

    strategy_code = "R1"

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        raise RuntimeError("strategy bug")


async def test_a_feed_that_fails_drains_the_service_and_exits_1(tmp_path, capsys):
    """A strategy that raises (or a submit refused once the lease is lost) ends the feed's task: the
    daemon still drains and closes the service and the control API, and says why."""
    from execsvc.cli import build_parser
    from execsvc.daemon import Daemon

    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ist_ns(DAY, 10, 0))]
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    args = build_parser().parse_args([
        "run", "--config", str(write_config(tmp_path)), "--mode", "paper",
        "--ticks", str(tmp_path / "ticks.jsonl"), "--control-port", "0",
        "--strategy", "tests.integration.test_daemon:RaisesOnTick",
    ])  # fmt: skip
    daemon = Daemon(args)
    code = await asyncio.wait_for(daemon.run(), 30)
    assert code == 1
    assert "strategy bug" in capsys.readouterr().err
    assert daemon.svc is not None and daemon.svc._lifecycle.closed  # drained and closed, not left open
    verify_file(tmp_path / "journal" / f"{DAY.isoformat()}.jsonl")
    assert (tmp_path / "state" / f"{DAY.isoformat()}.json").exists()


async def test_a_control_port_in_use_closes_the_started_service(tmp_path):
    """The control API binds after the service started: a port in use failed the daemon with the
    service left open (its tasks pending, its journal open, a NATS lease held until it expired)."""
    from execsvc.cli import build_parser
    from execsvc.daemon import Daemon

    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ist_ns(DAY, 10, 0))]
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = build_parser().parse_args([
            "run", "--config", str(write_config(tmp_path)), "--mode", "paper",
            "--ticks", str(tmp_path / "ticks.jsonl"), "--control-port", str(port),
        ])  # fmt: skip
        daemon = Daemon(args)
        with pytest.raises(OSError):
            await asyncio.wait_for(daemon.run(), 30)
    assert daemon.svc is not None and daemon.svc._lifecycle.closed
