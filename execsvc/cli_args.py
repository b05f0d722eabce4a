"""The command line's argument values: each refused with a message that names it (exit 2)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from execsvc.errors import ExecsvcError
from execsvc.market.freeze import check_freeze_quantities
from execsvc.market.multipliers import check_multipliers


def _positive(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number {what}")
        return value

    parse.__doc__ = f"A positive, finite number {what} (0, a negative, NaN and infinity are refused)."
    return parse


speed = _positive("(real time x N)")
"""``--speed``: a factor of real time."""

duration = _positive("of seconds")
"""``record --duration``: seconds."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
"""``--log-level``: the console's levels, as the README lists them (any case)."""

_MAX_PORT = 65535


def port(text: str) -> int:
    """``run --control-port``, ``kite-sim --port``: a TCP port, 0 (any free one) to 65535, as
    ``control.port`` takes it (the OS would wrap 70000 to 4464, and -1 fails deep in the bind)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a TCP port") from None
    if not 0 <= value <= _MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a TCP port, 0 (any free) to {_MAX_PORT}")
    return value


def tokens(text: str) -> list[int]:
    """``record --tokens``: comma-separated instrument tokens, each a uint32 above 0 as Kite sends them."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            token = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: not an instrument token") from None
        if not 0 < token < 2**32:
            raise argparse.ArgumentTypeError(f"{part!r}: an instrument token is 1 to {2**32 - 1}")
        out.append(token)
    if not out:
        raise argparse.ArgumentTypeError(f"{text!r}: no instrument tokens")
    return out


def missing_output_dir(args: argparse.Namespace) -> str | None:
    """Why ``replay``'s --report or --html cannot be written: found before the replay, not after it."""
    for flag, out in (("--report", args.report), ("--html", args.html)):
        if out and not Path(out).resolve().parent.is_dir():
            return f"{flag} {out!r}: its directory does not exist"
    return None


def holidays_without_calendar(args: argparse.Namespace) -> str | None:
    """Why ``kite-sim``'s --holidays-file cannot be taken: it is the session calendar's, and without
    --session-calendar nothing would read it. Not implied: the calendar also refuses orders out of
    hours, a change of behaviour a holidays flag should not bring in unasked."""
    if args.holidays_file is not None and not args.session_calendar:
        return (
            f"--holidays-file {args.holidays_file!r} needs --session-calendar: "
            "the holidays are the calendar's, and without it the simulator trades at any hour"
        )
    return None


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` pairs: a VALUE that reads as JSON is taken as JSON, else as text.

    Raises:
        ExecsvcError: a pair without ``=``, or a number JSON cannot hold (NaN, Infinity, 1e999).
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ExecsvcError(f"--param {pair!r}: expected KEY=VALUE")
        try:
            params[key] = json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)
        except json.JSONDecodeError:
            params[key] = raw
        except ValueError as exc:
            raise ExecsvcError(f"--param {pair!r}: {exc}") from None
    return params


def _not_json(text: str) -> Any:
    # NaN and Infinity: Python's json takes them, JSON (and the report) cannot
    raise ValueError(f"{text} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def multiplier(text: str) -> tuple[str, float]:
    """``kite-sim --multiplier EXCHANGE:NAME=M``: a contract multiplier, checked as ``market.multipliers``."""
    key, sep, raw = text.rpartition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected EXCHANGE:NAME=MULTIPLIER")
    try:
        value: Any = float(raw)
    except ValueError:
        value = raw
    for _path, _value, reason in check_multipliers({key: value}):
        raise argparse.ArgumentTypeError(f"{text!r}: {reason}")
    return key, float(value)


def freeze_quantity(text: str) -> tuple[str, int | None]:
    """``kite-sim --freeze-quantity NAME=UNITS`` (or ``NAME=none`` to lift a bundled row), checked as
    ``market.freeze_quantities``."""
    key, sep, raw = text.rpartition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=UNITS or NFO:NAME=UNITS (or =none)")
    value: Any = None if raw.strip().lower() in ("none", "null") else raw
    if value is not None:
        try:
            value = int(raw)
        except ValueError:
            pass
    for _path, _value, reason in check_freeze_quantities({key: value}, "--freeze-quantity"):
        raise argparse.ArgumentTypeError(f"{text!r}: {reason}")
    return key, value
