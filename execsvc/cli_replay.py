"""``execsvc replay``: recorded ticks through the paper pipeline, then a report.

A replay runs a whole ``ExecutionService`` on the tick clock, so the same inputs give a
byte-identical journal. ``--overwrite`` replaces only paper days: a live day's journal holds the
broker's orders and is never deleted here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from execsvc.cli_args import parse_params
from execsvc.clock import ReplayClock
from execsvc.config import load_config
from execsvc.errors import ExecsvcError, TickDataError
from execsvc.journal.inspect import day_mode, fold_file
from execsvc.journal.reader import journal_days, journal_path

log = logging.getLogger("execsvc.cli")  # the name it always logged under: filters keyed on it keep working


def _not_replays(journal_dir: Path, days: list[str]) -> list[str]:
    """The days in ``journal_dir`` that are not paper days (live, dry-run, or unreadable): a
    replay's ``--overwrite`` must never delete a live day's journal (the broker's orders live in it)."""
    kept = []
    for day in days:
        try:
            mode = day_mode(fold_file(journal_path(journal_dir, day)))
        except ExecsvcError as exc:
            kept.append(f"{day} (unreadable: {exc})")
            continue
        if mode not in ("paper", ""):
            kept.append(f"{day} ({mode})")
    return kept


async def replay_command(args: argparse.Namespace) -> int:
    """Replay ``args.ticks`` through the paper pipeline; the exit code (0, or 2 for bad input)."""
    from execsvc.market.files import check_readable
    from execsvc.market.replay import Replayer, iter_files
    from execsvc.reference import load_instruments
    from execsvc.report import build_report, summary_table, write_html, write_json
    from execsvc.service import ExecutionService
    from execsvc.strategies.base import load_strategy

    config = load_config(args.config)
    journal_dir = Path(args.journal_dir or "artifacts/replay/journal")
    existing = journal_days(journal_dir)
    if existing and not args.overwrite:
        print(
            f"{journal_dir} already holds journal files ({', '.join(existing)}): "
            "give another --journal-dir, or --overwrite to replace them",
            file=sys.stderr,
        )
        return 2
    kept = _not_replays(journal_dir, existing)
    if kept:
        print(f"{journal_dir} holds journal days a replay did not write ({', '.join(kept)}): --overwrite "
              "deletes only paper days; give another --journal-dir", file=sys.stderr)  # fmt: skip
        return 2
    for path in args.ticks:  # every file, before the first one trades: a typo in the last is no half replay
        check_readable(path)
    instruments = load_instruments(config)
    params = parse_params(args.param or [])
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
    for day in existing:  # only now: a replay that cannot start leaves the old journal alone
        journal_path(journal_dir, day).unlink()

    def all_ticks() -> Any:
        yield first
        yield from ticks

    service = ExecutionService(  # as the daemon: the session's hours, the broker's MIS square-off
        config,
        clock=clock,
        journal_dir=journal_dir,
        instruments=instruments,
        mode="paper",
        session_calendar=config.session.enforce,
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
