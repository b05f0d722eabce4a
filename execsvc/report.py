"""Replay reports: a summary table, a JSON report and a self-contained HTML page.

Every figure comes from the journal files the replay wrote (folded again here) and from the replay
clock, never from the wall clock, so two replays of the same inputs give byte-identical reports.
Speed (ticks per second) is printed in the table only.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from execsvc.events import BreakerTripped, ExecutionResult, Fill, OrderAccepted, OrderIntent, OrdersCarried
from execsvc.journal.reader import read_journal
from execsvc.market.multipliers import multiplier_field
from execsvc.market.replay import ReplayStats, max_drawdown
from execsvc.state import ServiceState


def build_report(
    stats: ReplayStats,
    journal_files: list[Path],
    *,
    inputs: dict[str, Any],
    capital: float,
) -> dict[str, Any]:
    """The replay's figures, from its journal files and statistics."""
    intents = orders = fills = trips = 0
    rejects: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    realized_gross = charges = 0.0
    fill_rows: list[dict[str, Any]] = []
    by_strategy: dict[str, _StrategyTally] = {}
    state = ServiceState(capital)
    for path in journal_files:
        state = ServiceState(capital)
        seen_first: set[str] = set()
        for record in read_journal(path).records:
            ev = record.ev
            state.apply(ev, record.ts)
            kind = type(ev)
            if kind is OrderIntent:
                intents += 1
            elif kind is OrderAccepted:
                assert isinstance(ev, OrderAccepted)
                orders += 1
                _tally(by_strategy, ev.strategy_code).orders += 1
            elif kind is Fill:
                assert isinstance(ev, Fill)
                fills += 1
                _tally(by_strategy, ev.strategy_code).fills += 1
                fill_rows.append(
                    {
                        "ts": ev.ts_event,
                        "order_id": ev.order_id,
                        "strategy": ev.strategy_code,
                        "symbol": ev.symbol,
                        "side": ev.side,
                        "qty": ev.qty,
                        "price": ev.price,
                        "charges": ev.charges.total,
                        **multiplier_field(ev.multiplier),  # MCX, CDS, BCD: value is qty * price * it
                    }
                )
            elif kind is BreakerTripped:
                trips += 1
            elif kind is OrdersCarried:  # answered on the day they were placed: counted there
                assert isinstance(ev, OrdersCarried)
                seen_first.update(c.order.intent_id for c in ev.orders)
            elif kind is ExecutionResult:
                assert isinstance(ev, ExecutionResult)
                if ev.intent_id not in seen_first:
                    seen_first.add(ev.intent_id)
                    statuses[ev.status] += 1
                    if ev.status == "REJECTED":
                        rejects[ev.reject_reason or "other"] += 1
        realized_gross += state.breakers.realized_gross
        charges += state.breakers.charges
        _fold_strategies(by_strategy, state)
    positions = [
        {
            "strategy": p.strategy_code,
            "symbol": p.symbol,
            "product": p.product,
            "net_qty": p.net_qty,
            "avg_price": round(p.avg_price, 4),
            **multiplier_field(p.multiplier),
        }
        for p in state.positions.values()
        if p.net_qty
    ]
    return {
        "inputs": inputs,
        "journal_files": [p.name for p in journal_files],
        "first_tick_ns": stats.first_ts,
        "last_tick_ns": stats.last_ts,
        "ticks": stats.ticks,
        "skipped_ticks": stats.skipped_ticks,
        "out_of_order_ticks": stats.out_of_order,
        "intents": intents,
        "orders": orders,
        "fills": fills,
        "results": dict(sorted(statuses.items())),
        "rejects_by_reason": dict(sorted(rejects.items())),
        "breaker_trips": trips,
        "realized_pnl_gross": round(realized_gross, 2),
        "charges": round(charges, 2),
        "net_pnl": round(realized_gross - charges, 2),
        "max_drawdown": round(max_drawdown(stats.equity_curve), 2),
        "positions_left": positions,
        "by_strategy": {code: _strategy_figures(t) for code, t in sorted(by_strategy.items())},
        "equity_curve": [[ts, value] for ts, value in stats.equity_curve],
        "fill_list": fill_rows,
    }


class _StrategyTally(msgspec.Struct):
    orders: int = 0
    fills: int = 0
    realized_gross: float = 0.0
    charges: float = 0.0
    closing_orders: int = 0
    wins: int = 0
    losses: int = 0


def _tally(by_strategy: dict[str, _StrategyTally], code: str) -> _StrategyTally:
    tally = by_strategy.get(code)
    if tally is None:
        tally = by_strategy[code] = _StrategyTally()
    return tally


def _fold_strategies(by_strategy: dict[str, _StrategyTally], state: ServiceState) -> None:
    """Add one folded day's P&L per strategy, and its closing orders as wins and losses (an order
    that reduced a position, by its round trip's realized net: the trades the loss-streak breaker
    counts)."""
    for p in state.positions.values():
        tally = _tally(by_strategy, p.strategy_code)
        tally.realized_gross += p.realized_gross
        tally.charges += p.charges
    for record in state.orders.values():
        if record.closing and not record.working:
            net = record.realized_gross - record.round_trip_charges
            tally = _tally(by_strategy, record.order.strategy_code)
            tally.closing_orders += 1
            tally.wins += net > 0
            tally.losses += net < 0


def _strategy_figures(tally: _StrategyTally) -> dict[str, Any]:
    gross, charges = round(tally.realized_gross, 2), round(tally.charges, 2)
    return {
        "orders": tally.orders,
        "fills": tally.fills,
        "realized_pnl_gross": gross,
        "charges": charges,
        "net_pnl": round(gross - charges, 2),
        "closing_orders": tally.closing_orders,
        "wins": tally.wins,
        "losses": tally.losses,
    }


def summary_table(report: dict[str, Any], ticks_per_second: float | None = None) -> str:
    """The report as an aligned two-column table for the terminal."""
    rows: list[tuple[str, str]] = [
        ("ticks", f"{report['ticks']:,}"),
        ("intents", f"{report['intents']:,}"),
        ("orders", f"{report['orders']:,}"),
        ("fills", f"{report['fills']:,}"),
    ]
    rejects = report["rejects_by_reason"]
    rows.append(("rejects", f"{sum(rejects.values()):,}"))
    rows.extend((f"  {reason}", f"{count:,}") for reason, count in rejects.items())
    rows += [
        ("breaker trips", f"{report['breaker_trips']:,}"),
        ("realized P&L gross", f"{report['realized_pnl_gross']:,.2f}"),
        ("charges", f"{report['charges']:,.2f}"),
        ("net P&L", f"{report['net_pnl']:,.2f}"),
        ("max drawdown", f"{report['max_drawdown']:,.2f}"),
        ("positions left", f"{len(report['positions_left'])}"),
    ]
    rows.extend(
        (
            f"  {p['strategy']} {p['symbol']} {p['product']}",
            f"{p['net_qty']:+,} @ {p['avg_price']:,.2f}"
            + (f" x {p['multiplier']:g}" if "multiplier" in p else ""),
        )
        for p in report["positions_left"]
    )
    for code, f in report.get("by_strategy", {}).items():
        rows.append((f"strategy {code} net P&L", f"{f['net_pnl']:,.2f}"))
        # net alone hides what charges took: a trader reconciles it with the contract notes
        rows.append(("  gross P&L, charges", f"{f['realized_pnl_gross']:,.2f}, {f['charges']:,.2f}"))
        rows.append(("  orders, wins/losses", f"{f['orders']:,}, {f['wins']:,}/{f['losses']:,}"))
    if ticks_per_second is not None:
        rows.append(("ticks/s", f"{ticks_per_second:,.0f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:>16}" for k, v in rows)


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the report as sorted, indented JSON (byte-stable)."""
    Path(path).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _svg_curve(curve: list[list[float]], width: int = 900, height: int = 260) -> str:
    if len(curve) < 2:
        return "<p>No equity curve: nothing traded.</p>"
    xs = [c[0] for c in curve]
    ys = [c[1] for c in curve]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = min([*ys, 0.0]), max([*ys, 0.0])
    span_x = (x1 - x0) or 1
    span_y = (y1 - y0) or 1

    def px(x: float) -> float:
        return round(40 + (x - x0) / span_x * (width - 50), 1)

    def py(y: float) -> float:
        return round(10 + (y1 - y) / span_y * (height - 30), 1)

    points = " ".join(f"{px(x)},{py(y)}" for x, y in zip(xs, ys))
    zero = py(0.0)
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="equity curve">'
        f'<line x1="40" x2="{width - 10}" y1="{zero}" y2="{zero}" stroke="#999" stroke-dasharray="4 3"/>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{points}"/>'
        f'<text x="2" y="14" font-size="11">{y1:,.0f}</text>'
        f'<text x="2" y="{height - 18}" font-size="11">{y0:,.0f}</text></svg>'
    )


def write_html(report: dict[str, Any], path: str | Path, *, max_rows: int = 2000) -> None:
    """A self-contained HTML page (inline CSS and SVG, no network) with the equity curve and fills."""
    esc = html.escape
    summary = summary_table(report)
    fills = report["fill_list"][:max_rows]
    rows = "\n".join(
        f"<tr><td>{f['ts']}</td><td>{esc(f['order_id'])}</td><td>{esc(f['strategy'])}</td>"
        f"<td>{esc(f['symbol'])}</td><td>{f['side']}</td><td>{f['qty']}</td><td>{f['price']:.2f}</td>"
        f"<td>{f.get('multiplier', 1.0):g}</td><td>{f['charges']:.2f}</td></tr>"
        for f in fills
    )
    more = len(report["fill_list"]) - len(fills)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>execsvc replay report</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}pre{{background:#f6f8fa;padding:1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:2px 8px;text-align:right}}</style>
</head><body>
<h1>Replay report</h1>
<p>Inputs: {esc(json.dumps(report["inputs"], sort_keys=True))}</p>
<h2>Summary</h2><pre>{esc(summary)}</pre>
<h2>Equity (realized net + open positions marked to market)</h2>
{_svg_curve(report["equity_curve"])}
<h2>Fills</h2>
<table><thead><tr><th>ts (ns)</th><th>order</th><th>strategy</th><th>symbol</th><th>side</th><th>qty</th>
<th>price</th><th>multiplier</th><th>charges</th></tr></thead><tbody>
{rows}
</tbody></table>
{f"<p>… and {more} more fills (see the JSON report).</p>" if more > 0 else ""}
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
