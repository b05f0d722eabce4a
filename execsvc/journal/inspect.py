"""Offline views of a journal: verification and the folded state of a day (for the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execsvc.events import JournalOpened
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.state import ServiceState


@dataclass(frozen=True)
class VerifyReport:
    """What ``journal verify`` found in one file."""

    path: str
    records: int
    last_seq: int
    last_hash: str
    torn_tail_bytes: int


def resolve_day_file(directory: str | Path, day_or_file: str | None) -> Path:
    """A journal file from a day (``2026-11-20``), a path, or the latest day when None.

    Raises:
        FileNotFoundError: no such day or file.
    """
    if day_or_file and (day_or_file.endswith(".jsonl") or "/" in day_or_file):
        path = Path(day_or_file)
    elif day_or_file:
        path = journal_path(directory, day_or_file)
    else:
        days = journal_days(directory)
        if not days:
            raise FileNotFoundError(f"no journal files in {directory}")
        path = journal_path(directory, days[-1])
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such journal file")
    return path


def verify_file(path: str | Path) -> VerifyReport:
    """Check every record's hash, link and sequence.

    Raises:
        JournalCorruptError, JournalChainError: the first problem, with its line.
    """
    result = read_journal(path)
    last_seq = result.records[-1].seq if result.records else -1
    return VerifyReport(str(path), len(result.records), last_seq, result.last_hash, len(result.torn_tail))


def fold_file(path: str | Path, capital: float | None = None) -> ServiceState:
    """The state a service would have after folding this file.

    ``capital`` (the drawdown breaker's) defaults to the one the day opened with, as journaled,
    or ₹5 lakh for a file from before it was.
    """
    records = read_journal(path).records
    if capital is None:
        opened = records[0].ev if records else None
        journaled = opened.capital if isinstance(opened, JournalOpened) else None
        capital = journaled if journaled is not None else 500_000.0
    state = ServiceState(capital)
    for record in records:
        state.apply(record.ev, record.ts)
    return state


def day_mode(state: ServiceState) -> str:
    """A folded day's mode: paper, live or dry-run (live and dry-run days share a journal directory).

    Its opening says, or, for a live day from before ``JournalOpened.dry_run`` was written, its
    results do (they say dry-run).
    """
    if state.result_mode == "live" and any(r.mode == "dry-run" for r in state.first_results.values()):
        return "dry-run"
    return state.result_mode


def state_summary(state: ServiceState) -> dict[str, Any]:
    """Positions and breaker figures of a folded state, and whose day it was, JSON-friendly."""
    b = state.breakers
    return {
        "day": state.day,
        "mode": day_mode(state),
        "positions": [
            {
                "strategy": p.strategy_code,
                "symbol": p.symbol,
                "product": p.product,
                "net_qty": p.net_qty,
                "avg_price": round(p.avg_price, 4),
                "realized_gross": round(p.realized_gross, 2),
                "charges": round(p.charges, 2),
                "realized_net": round(p.realized_net, 2),
            }
            for p in state.positions.values()
        ],
        "working_orders": [r.order.order_id for r in state.working_orders()],
        "breakers": {
            "halted": b.halted_reason,
            "latched": dict(b.latched),
            "realized_net": round(b.realized_net, 2),
            "peak_equity": round(b.peak_equity, 2),
            "loss_streak": b.loss_streak,
            "trades_today": b.trades_today,
            "trades_by_strategy": dict(b.trades_by_strategy),
            "trips_today": b.trips_today,
        },
        "results": dict(state.status_counts),
        "rejects": dict(state.reject_reasons),
        "fills": state.fills,
    }
