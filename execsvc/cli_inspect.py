"""``execsvc journal verify`` and ``execsvc state``: read a journal day, never write one.

Both print to stdout and return an exit code: 0 success, 1 a journal that fails its check, 2 no such
day or file.
"""

from __future__ import annotations

import argparse
import json
import sys

from execsvc.errors import JournalError
from execsvc.journal.inspect import fold_file, resolve_day_file, state_summary, verify_file


def journal_verify_command(args: argparse.Namespace) -> int:
    """Check the hash chain of the journal day or file ``args.target`` names (default the latest)."""
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


def state_command(args: argparse.Namespace) -> int:
    """Print the positions and breakers folded from a journal day (``--json``: as JSON)."""
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
    print(f"day {summary['day']} {summary['mode']} ({path})")
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
