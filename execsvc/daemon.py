"""``execsvc run``: the long-lived daemon through a market day.

It starts the service (folding the journal, reconciling with the broker in live mode), the control
API, and the market-data feed (:mod:`execsvc.feeds`): a tick file replayed at real time x N (paper,
on the replay clock), or the Kite WebSocket (live and dry-run; also the Kite simulator). Embedded
strategies come from the config (``strategies``) and ``--strategy``; external producers use
``POST /intents``.

Through the day: orders outside the session are refused unless they are AMOs (the market calendar);
MIS positions are squared off at the configured time before the broker's own square-off; at the IST
date boundary daily breakers reset and a new journal file opens. A daemon does not exit because its
feed ended: it keeps serving until signalled or the session closes, unless ``--exit-at-end``.

Signals: SIGTERM/SIGINT drain (stop intake, let in-flight orders settle, flush and fsync the journal,
write a state snapshot, exit 0); a second one exits at once (the journal still restarts cleanly).
One that comes while the service is still starting (a standby waiting for the account's lease)
stops the start and exits 0.
A feed that fails (a strategy that raises, a submission refused once the lease is lost) is logged and
drained the same way, and the daemon exits 1.
SIGHUP reloads the breaker limits from the config file and journals the change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import msgspec

from execsvc.calendar import MarketCalendar
from execsvc.clock import Clock, LiveClock, ReplayClock, WaitingClock
from execsvc.config import Config, load_config
from execsvc.daemon_timers import schedule_square_offs, stop_after_the_close, wall_clock_schedule
from execsvc.errors import ConfigError
from execsvc.feeds import StrategyHost, check_feed_token, replay_ticks
from execsvc.journal.inspect import state_summary
from execsvc.logs import register_secret, setup_logging
from execsvc.reference import load_instruments
from execsvc.service import ExecutionService
from execsvc.squareoff import mis_entry_cutoff
from execsvc.strategies.base import load_strategy

log = logging.getLogger("execsvc.daemon")


class Daemon:
    """One run of the daemon; see the module docstring."""

    def __init__(self, args: Any, *, clock: WaitingClock | None = None) -> None:
        """``clock``: the wall clock a daemon on a live feed runs on (a ``LiveClock`` unless a test
        gives one that jumps); a replay of tick files runs on the replay clock instead."""
        self.args = args
        self.wall_clock: WaitingClock = clock if clock is not None else LiveClock()
        self.config_path = Path(args.config)
        config = load_config(self.config_path)
        if args.dry_run:
            config = msgspec.structs.replace(
                config, execution=msgspec.structs.replace(config.execution, dry_run=True)
            )
        if getattr(args, "journal_dir", None):
            config = msgspec.structs.replace(
                config, journal=msgspec.structs.replace(config.journal, dir=args.journal_dir)
            )
        self.config: Config = config
        self.mode = args.mode or config.mode
        if args.dry_run and self.mode != "live":
            raise ConfigError(
                f"--dry-run goes with --mode live (mode here: {self.mode}): paper sends nothing to a broker"
            )
        self.stop_requested = asyncio.Event()
        self.hard_stop = asyncio.Event()
        self.signals = 0
        self.svc: ExecutionService | None = None
        self.exit_code = 0
        self._side_jobs: set[asyncio.Task[None]] = set()  # ended (cancelled, awaited) by run()
        self._starting = False  # in svc.start(): a first signal cancels the start

    def _strategies(self) -> list[Any]:
        specs = [(s.spec, s.params) for s in self.config.strategies]
        specs += [(spec, {}) for spec in (self.args.strategy or [])]
        return [load_strategy(spec, params) for spec, params in specs]

    def _install_signals(self, main_task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()

        def on_stop(signame: str) -> None:
            self.signals += 1
            if self.signals == 1 and self._starting:
                # a standby waits in start() for the lease, maybe all day: stop waiting, not later
                log.warning("%s: stopping before the service started", signame)
                self.stop_requested.set()
                main_task.cancel()
            elif self.signals == 1:
                log.warning("%s: draining (a second signal exits at once)", signame)
                self.stop_requested.set()
            else:
                log.error("%s again: exiting now", signame)
                self.exit_code = 1
                self.hard_stop.set()
                main_task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._side_job(self._reload(), "SIGHUP reload"))

    def _side_job(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a side job (a reload, a square-off timer) until it ends or the daemon does.

        A job that fails must not end the day: its failure is logged and the daemon carries on.
        ``run`` cancels and awaits whatever is still running when it returns.
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._side_jobs.add(task)

        def done(job: asyncio.Task[None]) -> None:
            self._side_jobs.discard(job)
            if not job.cancelled() and job.exception() is not None:
                log.error("%s failed: %s", name, job.exception())

        task.add_done_callback(done)

    async def _end_side_jobs(self) -> None:
        jobs = list(self._side_jobs)
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)

    async def _reload(self) -> None:
        svc = self.svc
        if svc is None:
            return
        try:
            fresh = load_config(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: config not reloaded: %s", exc)
            return
        await svc.reload_limits(
            fresh.execution.circuit_breakers, reason=f"SIGHUP reload of {self.config_path}", by="signal"
        )

    async def run(self) -> int:
        """Run until signalled, the session closes, or (``--exit-at-end``) the feed ends."""
        try:
            return await self._run()
        finally:
            await self._end_side_jobs()

    async def _run(self) -> int:
        args, config = self.args, self.config
        setup_logging(
            args.log_level,
            logs_dir=config.daemon.logs_dir,
            max_bytes=config.daemon.log_max_bytes,
            backups=config.daemon.log_backups,
        )
        from execsvc.control.app import check_bind, load_control_token
        from execsvc.control.server import start_control
        from execsvc.executors.kite.postback import postback_secret
        from execsvc.metrics import ServiceMetrics

        host = args.control_host or config.control.host
        port = args.control_port if args.control_port is not None else config.control.port
        token = load_control_token(config.control.token_env, config.control.token_file)
        check_bind(host, token)
        register_secret(token)
        calendar = MarketCalendar.from_config(config.session)
        instruments = load_instruments(config)
        files = list(args.ticks or config.feed.ticks)
        replaying = self.mode == "paper" and bool(files)
        clock: Clock = self.wall_clock
        ticks_iter = None
        if replaying:
            start_ns, ticks_iter = replay_ticks(files, instruments)
            clock = ReplayClock(start_ns)
        else:
            check_feed_token(config, self.mode)
        enforce = config.session.enforce
        svc = ExecutionService(
            config,
            mode=self.mode,
            clock=clock,
            instruments=instruments,
            session_calendar=calendar if enforce else False,
        )
        if enforce and config.session.square_off:
            svc.engine.mis_entry_cutoff = mis_entry_cutoff(calendar)
        self.svc = svc
        self._install_signals(asyncio.current_task())  # type: ignore[arg-type]
        strategies = self._strategies()
        self._starting = True
        try:
            await svc.start()  # a standby waits here for the lease
        except asyncio.CancelledError:
            if not self.stop_requested.is_set():
                raise
            return self.exit_code  # signalled: start() closed what it had opened
        finally:
            self._starting = False
        metrics = ServiceMetrics(svc)
        try:
            control = await start_control(
                svc,
                host=host,
                port=port,
                token=token,
                metrics=metrics,
                postback_secret=postback_secret(config, self.mode),
            )
        except BaseException:  # the port is in use, say: the started service is drained and closed
            await svc.stop()
            raise
        print(f"execsvc {svc.result_mode}: live page and control API at {control.url}/")
        print(f"journal: {svc.journal.path}; logs: {config.daemon.logs_dir}/execsvc.jsonl")
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    if replaying and ticks_iter is not None:
                        group.create_task(self._replay(svc, strategies, ticks_iter, calendar))
                    else:
                        group.create_task(self._live_feed(svc, strategies, calendar, metrics))
                        group.create_task(self._session_close(calendar))
                    group.create_task(self._wait_for_end())
            except* _Finished:
                pass
        except Exception as exc:  # the feed, a strategy or a timer failed: drain all the same
            log.error("the feed or a strategy failed; draining", exc_info=exc)
            self.exit_code = 1
        except asyncio.CancelledError:
            # the second signal: no drain; the journal keeps what was written and restarts cleanly
            try:
                await svc.kill()
            except BaseException as exc:  # exiting anyway: say why, then stop the control API
                log.error("hard stop: %s", exc)
            finally:
                await control.stop()
            return self.exit_code or 1
        try:
            await self._shutdown(svc, control)
        except asyncio.CancelledError:  # a second signal during the drain: stop now
            log.error("drain interrupted; stopping hard")
            try:
                await svc.kill()
            except BaseException as exc:
                log.error("hard stop: %s", exc)
            finally:
                await control.stop()
            return self.exit_code or 1
        return self.exit_code

    async def _session_close(self, calendar: MarketCalendar) -> None:
        """Live: stop a while after the last session of the day closes on the wall clock (never if
        ``daemon.after_close_seconds`` is null)."""
        grace = self.config.daemon.after_close_seconds
        await stop_after_the_close(self.wall_clock, calendar, grace, self.stop_requested)

    async def _wait_for_end(self) -> None:
        await self.stop_requested.wait()
        raise _Finished

    def _feed_ended(self, what: str) -> None:
        if self.args.exit_at_end:
            log.info("%s; exiting", what)
            self.stop_requested.set()
        else:
            log.info("%s; serving", what)

    async def _replay(
        self,
        svc: ExecutionService,
        strategies: list[Any],
        ticks: Any,
        calendar: MarketCalendar,
    ) -> None:
        from execsvc.market.replay import Replayer

        replayer = Replayer(svc, strategies, speed=self.args.speed or self.config.feed.speed)
        if self.config.session.square_off:
            schedule_square_offs(svc, calendar, replayer.at)
        stats = await replayer.run(ticks)
        self._feed_ended(f"feed ended after {stats.ticks} ticks")

    async def _live_feed(
        self,
        svc: ExecutionService,
        strategies: list[Any],
        calendar: MarketCalendar,
        metrics: Any,
    ) -> None:
        host = StrategyHost(svc, strategies)
        # the service's own WebSocket (live: open already, for its order updates): Kite allows
        # few connections per api_key, so the ticks come on it too
        await svc.feed.subscribe(self.config.feed.tokens, self.config.feed.mode)
        metrics.ticker = svc.feed.ticker

        if self.config.session.square_off:
            schedule_square_offs(svc, calendar, wall_clock_schedule(self.wall_clock, self._side_job))
        await host.follow()

    async def _shutdown(self, svc: ExecutionService, control: Any) -> None:
        log.info("draining")
        await control.stop()
        if self.hard_stop.is_set():  # the second signal came before the drain began
            raise asyncio.CancelledError
        # a second signal cancels this task (see _install_signals): the drain stops where it is
        try:
            async with asyncio.timeout(self.config.daemon.drain_timeout_seconds):
                await svc.stop()
        except TimeoutError:
            log.error("drain timed out; stopping hard")
            await svc.kill()
            self.exit_code = 1
        snapshot = write_snapshot(svc, Path(self.config.daemon.state_dir))
        from execsvc.market.replay import ReplayStats
        from execsvc.report import build_report, summary_table

        day_file = svc.journal.path
        if day_file is not None:
            report = build_report(
                ReplayStats(),
                [day_file],
                inputs={},
                capital=self.config.execution.circuit_breakers.capital_rupees,
            )
            print(f"summary of {svc.engine.state.day} (from {day_file}):")
            rows = summary_table(report).splitlines()
            print("\n".join(r for r in rows if not r.startswith(("ticks", "max drawdown"))))
        print(f"state snapshot: {snapshot}")


class _Finished(Exception):
    """Ends the daemon's task group normally."""


def write_snapshot(svc: ExecutionService, directory: Path) -> Path:
    """Write the state (positions, breakers, working orders) as JSON next to the journal's day."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{svc.engine.state.day or 'unknown'}.json"
    path.write_text(json.dumps(state_summary(svc.engine.state), indent=2, sort_keys=True) + "\n")
    return path


async def run_daemon(args: Any) -> int:
    """Entry point of ``execsvc run``."""
    return await Daemon(args).run()
