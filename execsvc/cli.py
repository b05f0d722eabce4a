"""``execsvc`` / ``python -m execsvc``: the command line.

Subcommands: ``replay`` (recorded ticks through the paper pipeline), ``journal verify`` (the hash
chain of a journal file), ``state`` (positions and breakers folded from a journal day).
Exit codes: 0 success, 1 a failed check or run, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from execsvc.clock import ReplayClock
from execsvc.config import load_config
from execsvc.errors import ExecsvcError, JournalError, TickDataError
from execsvc.journal.inspect import fold_file, resolve_day_file, state_summary, verify_file
from execsvc.journal.reader import journal_days, journal_path

log = logging.getLogger("execsvc.cli")


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def setup_logging(level: str) -> None:
    """Human-readable logs on stderr."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ExecsvcError(f"--param {pair!r}: expected KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


async def _replay(args: argparse.Namespace) -> int:
    from execsvc.market.replay import Replayer, iter_files
    from execsvc.report import build_report, summary_table, write_html, write_json
    from execsvc.service import ExecutionService, load_instruments
    from execsvc.strategies.base import load_strategy

    config = load_config(args.config)
    journal_dir = Path(args.journal_dir or "artifacts/replay/journal")
    existing = journal_days(journal_dir)
    if existing:
        if not args.overwrite:
            print(
                f"{journal_dir} already holds journal files ({', '.join(existing)}): "
                "give another --journal-dir, or --overwrite to replace them",
                file=sys.stderr,
            )
            return 2
        for day in existing:
            journal_path(journal_dir, day).unlink()
    instruments = load_instruments(config)
    params = _parse_params(args.param or [])
    strategies = [load_strategy(spec, params) for spec in args.strategy]
    skipped: list[TickDataError] = []

    def on_skip(error: TickDataError) -> None:
        skipped.append(error)
        log.warning("skipped a bad tick: %s", error)

    ticks = iter_files(args.ticks, instruments, args.on_bad_tick, on_skip)
    first = next(ticks, None)
    if first is None:
        print("no ticks in the input files", file=sys.stderr)
        return 2
    clock = ReplayClock(first.ts_event)

    def all_ticks() -> Any:
        yield first
        yield from ticks

    service = ExecutionService(
        config, clock=clock, journal_dir=journal_dir, instruments=instruments, mode="paper"
    )
    async with service:
        replayer = Replayer(service, strategies, speed=args.speed, progress=sys.stderr.isatty())
        stats = await replayer.run(all_ticks())
    stats.skipped_ticks = len(skipped)
    files = [journal_path(journal_dir, day) for day in journal_days(journal_dir)]
    inputs = {
        "ticks": [Path(p).name for p in args.ticks],
        "strategies": list(args.strategy),
        "params": params,
        "config": Path(args.config).name,
    }
    report = build_report(
        stats, files, inputs=inputs, capital=config.execution.circuit_breakers.capital_rupees
    )
    rate = stats.ticks / stats.wall_seconds if stats.wall_seconds > 0 else 0.0
    print(summary_table(report, rate))
    print(f"journal: {', '.join(str(f) for f in files)}")
    if args.report:
        write_json(report, args.report)
        print(f"report: {args.report}")
    if args.html:
        write_html(report, args.html)
        print(f"html report: {args.html}")
    return 0


def _journal_verify(args: argparse.Namespace) -> int:
    try:
        path = resolve_day_file(args.dir, args.target)
        report = verify_file(path)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    except JournalError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    torn = f", torn tail of {report.torn_tail_bytes} bytes ignored" if report.torn_tail_bytes else ""
    print(f"OK: {report.path}: {report.records} records, last seq {report.last_seq}{torn}")
    return 0


def _state(args: argparse.Namespace) -> int:
    try:
        path = resolve_day_file(args.dir, args.day)
        summary = state_summary(fold_file(path))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    except JournalError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    print(f"day {summary['day']} ({path})")
    print("positions:")
    for p in summary["positions"]:
        print(
            f"  {p['strategy']:<12} {p['symbol']:<20} {p['product']:<5} net {p['net_qty']:>+8} "
            f"avg {p['avg_price']:>10.2f}  realized {p['realized_gross']:>10.2f}  "
            f"charges {p['charges']:>8.2f}"
        )
    b = summary["breakers"]
    print(
        f"breakers: halted={b['halted']!r} latched={sorted(b['latched'])} "
        f"realized_net={b['realized_net']:.2f} peak_equity={b['peak_equity']:.2f} "
        f"loss_streak={b['loss_streak']} trades_today={b['trades_today']}"
    )
    print(f"working orders: {len(summary['working_orders'])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="execsvc", description="Order execution for Zerodha Kite.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help="replay recorded ticks through the paper pipeline")
    replay.add_argument("--config", required=True)
    replay.add_argument(
        "--ticks", nargs="+", required=True, help=".jsonl[.gz], .csv[.gz] or .kite[.gz] files"
    )
    replay.add_argument("--strategy", action="append", required=True, help="MODULE:CLASS (repeatable)")
    replay.add_argument("--param", action="append", help="KEY=VALUE strategy parameter (JSON values)")
    replay.add_argument("--journal-dir", help="default artifacts/replay/journal")
    replay.add_argument(
        "--overwrite", action="store_true", help="replace journal files already in --journal-dir"
    )
    replay.add_argument("--report", help="write the JSON report here")
    replay.add_argument("--html", help="write the HTML report here")
    replay.add_argument(
        "--speed", type=float, default=None, help="real time x N (default: as fast as possible)"
    )
    replay.add_argument("--on-bad-tick", choices=("fail", "skip"), default="fail")

    journal = sub.add_parser("journal", help="journal tools")
    jsub = journal.add_subparsers(dest="journal_command", required=True)
    verify = jsub.add_parser("verify", help="check the hash chain of a journal file")
    verify.add_argument("target", nargs="?", help="a day (YYYY-MM-DD) or a file; default the latest day")
    verify.add_argument("--dir", default="artifacts/journal")

    state = sub.add_parser("state", help="positions and breaker state of a journal day")
    state.add_argument("--day", help="YYYY-MM-DD or a file; default the latest day")
    state.add_argument("--dir", default="artifacts/journal")
    state.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``execsvc``."""
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        if args.command == "replay":
            return run_async(_replay(args))
        if args.command == "journal":
            return _journal_verify(args)
        if args.command == "state":
            return _state(args)
    except TickDataError as exc:
        print(f"bad tick data: {exc}", file=sys.stderr)
        return 2
    except ExecsvcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
