"""``execsvc`` / ``python -m execsvc``: the command line.

Subcommands: ``run`` (the daemon), ``replay`` (recorded ticks through the paper pipeline),
``journal verify`` (the hash chain of a journal file), ``state`` (positions and breakers folded
from a journal day), ``login`` (Kite access token), ``record`` (live ticks to a tick file, in one mode),
``kite-sim`` (the simulator). Exit codes: 0 success, 1 a failed check or run (or a reader of the
output that went away), 2 bad usage or bad input.

This module holds the parser and the dispatch; a subcommand that needs more than a few lines lives
beside it: ``cli_inspect`` (the ones that read a journal), ``cli_replay`` (the replay),
``daemon`` (run), ``recorder`` (record).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from execsvc.cli_args import (
    LOG_LEVELS,
    duration,
    freeze_quantity,
    holidays_without_calendar,
    missing_output_dir,
    multiplier,
    port,
    speed,
    tokens,
)
from execsvc.cli_inspect import journal_verify_command, state_command
from execsvc.config import load_config
from execsvc.errors import ExecsvcError, TickDataError
from execsvc.logs import RedactingFilter, RedactingFormatter


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def setup_logging(level: str) -> None:
    """Human-readable logs on stderr, with every registered secret redacted (``execsvc.logs``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])


def _login(args: argparse.Namespace) -> int:
    from execsvc.executors.kite.auth import api_secret, login, login_url

    config = load_config(args.config)
    if not config.kite.api_key:
        print("kite.api_key is not set in the config", file=sys.stderr)
        return 2
    api_secret(config.kite)  # before the prompt: a request token works only once
    token = args.request_token
    if not token:
        print(f"Log in here, then paste the request_token from the redirect URL:\n  {login_url(config.kite)}")
        try:
            token = input("request_token: ").strip()
        except EOFError:  # no terminal, or Ctrl-D
            token = ""
        if not token:
            print(
                "\nno request_token given: paste it at the prompt, or pass --request-token", file=sys.stderr
            )
            return 2
    path = login(config.kite, token)
    print(f"access token stored in {path} (mode 0600)")
    return 0


async def _record(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    from execsvc.recorder import record_command

    return await record_command(args, stop)


async def _kite_sim(args: argparse.Namespace) -> int:
    from execsvc.sim import serve

    multipliers, freeze = dict(args.multiplier or ()), dict(args.freeze_quantity or ())
    await serve(
        args.host, args.port, args.ticks, args.faults, args.speed, multipliers, freeze,
        session_calendar=args.session_calendar, holidays_file=args.holidays_file,
    )  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="execsvc", description="Order execution for Zerodha Kite.")
    parser.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, default="INFO", help="default INFO"
    )
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
        "--speed", type=speed, default=None, help="real time x N (default: as fast as possible)"
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

    run = sub.add_parser("run", help="the daemon: trade a market day with a control API")
    run.add_argument("--config", required=True)
    run.add_argument("--mode", choices=("paper", "live"), default=None, help="default: the config's mode")
    run.add_argument("--dry-run", action="store_true", help="live path up to the broker call")
    run.add_argument("--ticks", nargs="+", help="paper: tick files replayed at --speed (default feed.ticks)")
    run.add_argument("--speed", type=speed, default=None, help="paper replay: real time x N")
    run.add_argument("--strategy", action="append", help="MODULE:CLASS (repeatable; plus config strategies)")
    run.add_argument("--control-host", default=None, help="default 127.0.0.1")
    run.add_argument("--control-port", type=port, default=None, help="default 8080 (0: any free port)")
    run.add_argument("--exit-at-end", action="store_true", help="stop when the feed ends")
    run.add_argument("--journal-dir", default=None, help="default: journal.dir of the config")

    login = sub.add_parser("login", help="log in to Kite: store an access token (0600) for live mode")
    login.add_argument("--config", required=True)
    login.add_argument("--request-token", help="the request_token from the login redirect (else prompted)")

    record = sub.add_parser("record", help="record live Kite ticks (raw frames, JSON lines or CSV)")
    record.add_argument("--config", required=True)
    record.add_argument(
        "--out", required=True, help="FILE.kite[.gz] (raw frames), or .jsonl[.gz] or .csv[.gz] (ticks)"
    )
    record.add_argument("--tokens", type=tokens, required=True, help="instrument tokens, comma-separated")
    record.add_argument("--mode", choices=("ltp", "quote", "full"), default="full")
    record.add_argument(
        "--duration", type=duration, default=None, help="seconds (default: until interrupted)"
    )

    sim = sub.add_parser("kite-sim", help="run the Kite-compatible exchange simulator on loopback")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=port, default=8787)
    sim.add_argument("--ticks", help="a tick file to stream")
    sim.add_argument("--faults", help="a faults YAML/JSON file")
    sim.add_argument("--speed", type=speed, default=1.0, help="tick stream speed, real time x N")
    sim.add_argument("--multiplier", type=multiplier, action="append", help="MCX:CRUDEOIL=100 (repeatable)")
    sim.add_argument(
        "--freeze-quantity",
        type=freeze_quantity,
        action="append",
        help="NIFTY=1800 or BANKNIFTY=none, over configs/freeze-quantities.yaml (repeatable)",
    )
    sim.add_argument(
        "--session-calendar",
        action="store_true",
        help="refuse regular orders out of market hours, send AMOs at the open, match only in session",
    )
    sim.add_argument("--holidays-file", help="the calendar's holidays (default configs/holidays-2026.yaml)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``execsvc``."""
    args = build_parser().parse_args(argv)
    if args.command != "run":  # the daemon sets up its own (console + rotating JSON files)
        setup_logging(args.log_level)
    try:
        code = _command(args)
        if sys.stdout is not None:  # None: started with stdout closed (`>&-`), and print is a no-op
            sys.stdout.flush()  # a reader that left (`| head`) shows here, not as an error at exit
    except BrokenPipeError:
        # as the Python docs advise: no traceback, and nothing left for the exit's flush to fail on
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "replay":
            missing = missing_output_dir(args)
            if missing is not None:
                print(missing, file=sys.stderr)
                return 2
            from execsvc.cli_replay import replay_command

            return run_async(replay_command(args))
        if args.command == "journal":
            return journal_verify_command(args)
        if args.command == "state":
            return state_command(args)
        if args.command == "run":
            from execsvc.daemon import run_daemon

            return run_async(run_daemon(args))
        if args.command == "login":
            return _login(args)
        if args.command == "record":
            from execsvc.recorder import out_problem

            problem = out_problem(args.out)
            if problem is not None:
                print(problem, file=sys.stderr)
                return 2
            return run_async(_record(args))
        if args.command == "kite-sim":
            problem = holidays_without_calendar(args)
            if problem is not None:
                print(f"error: {problem}", file=sys.stderr)
                return 2
            return run_async(_kite_sim(args))
    except TickDataError as exc:
        print(f"bad tick data: {exc}", file=sys.stderr)
        return 2
    except ExecsvcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the control API's or the simulator's address is taken (or not ours)
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        run = args.command == "run"
        if exc.errno == errno.EADDRNOTAVAIL:  # no port would do: the host is not one of ours
            flag = "--control-host (control.host)" if run else "--host"
            print(f"error: {exc}: not an address of this machine: choose another {flag}", file=sys.stderr)
            return 2
        flag = "--control-port (control.port)" if run else "--port"
        print(f"error: {exc}: is another one running? choose another {flag}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
