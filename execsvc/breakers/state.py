"""The breakers' day figures, kept as a fold over journal events.

Everything here changes only through ``on_*`` calls made by the service state's fold, so a restart
that folds the day's journal rebuilds exactly the same figures, latches and throttle windows.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from execsvc.breakers.rules import BreakerView

_SECOND_NS = 1_000_000_000


class BreakerState:
    """Day counters, peak equity, loss streak, latches, the halt flag and throttle windows."""

    def __init__(self, capital: float) -> None:
        self.capital = capital
        self.day = ""
        self.trades_today = 0
        self.trades_by_strategy: dict[str, int] = {}
        self.realized_gross = 0.0
        self.charges = 0.0
        self.peak_equity = capital
        self.loss_streak = 0
        self.latched: dict[str, str] = {}
        self.trips_today = 0
        self.halted_reason: str | None = None
        self._orders: deque[int] = deque()
        self._orders_by_strategy: dict[str, deque[int]] = {}

    @property
    def realized_net(self) -> float:
        """The day's realized P&L less the day's charges."""
        return self.realized_gross - self.charges

    @property
    def equity(self) -> float:
        """Capital plus the day's realized net P&L."""
        return self.capital + self.realized_net

    def new_day(self, day: str) -> None:
        """Start a trading day: counters, streak and latches reset; a halt stays until resumed."""
        self.day = day
        self.trades_today = 0
        self.trades_by_strategy.clear()
        self.realized_gross = 0.0
        self.charges = 0.0
        self.peak_equity = self.capital
        self.loss_streak = 0
        self.latched.clear()
        self.trips_today = 0
        self._orders.clear()
        self._orders_by_strategy.clear()

    def on_order(self, strategy_code: str, ts: int) -> None:
        """An order was accepted by an executor: it counts as a trade and in the throttle windows."""
        self.trades_today += 1
        self.trades_by_strategy[strategy_code] = self.trades_by_strategy.get(strategy_code, 0) + 1
        self._orders.append(ts)
        window = self._orders_by_strategy.get(strategy_code)
        if window is None:
            window = self._orders_by_strategy[strategy_code] = deque()
        window.append(ts)

    def on_fill(self, realized_gross: float, charges: float) -> None:
        """A fill realised P&L and cost charges; equity's peak follows."""
        self.realized_gross += realized_gross
        self.charges += charges
        equity = self.equity
        if equity > self.peak_equity:
            self.peak_equity = equity

    def on_order_closed(self, realized_net: float) -> None:
        """An order that closed position finished: a loss extends the streak, a win ends it."""
        if realized_net < 0:
            self.loss_streak += 1
        elif realized_net > 0:
            self.loss_streak = 0

    def on_trip(self, key: str, message: str, latched: bool) -> None:
        """A breaker tripped."""
        self.trips_today += 1
        if latched:
            self.latched[key] = message

    def set_capital(self, capital: float) -> None:
        """The capital was reloaded: drawdown is measured against it from now on.

        The peak moves with it (peak equity is capital plus the day's best realized net), so a
        reload neither invents nor hides a drawdown in rupees; only its share of capital changes.
        """
        self.peak_equity += capital - self.capital
        self.capital = capital

    def on_reset(self) -> None:
        """An operator reset the latches (the figures stay: they are facts)."""
        self.latched.clear()
        self.loss_streak = 0

    def orders_in_last_second(self, now_ns: int, strategy_code: str) -> tuple[int, int]:
        """(all orders, the strategy's orders) accepted in the second before ``now_ns``."""
        cutoff = now_ns - _SECOND_NS
        window = self._orders
        while window and window[0] <= cutoff:
            window.popleft()
        mine = self._orders_by_strategy.get(strategy_code)
        if mine is None:
            return len(window), 0
        while mine and mine[0] <= cutoff:
            mine.popleft()
        return len(window), len(mine)

    def summary(self) -> dict[str, Any]:
        """The figures and latches, JSON-friendly, for people and status pages."""
        return {
            "day": self.day,
            "halted": self.halted_reason,
            "latched": dict(self.latched),
            "realized_net": round(self.realized_net, 2),
            "charges": round(self.charges, 2),
            "peak_equity": round(self.peak_equity, 2),
            "equity": round(self.equity, 2),
            "loss_streak": self.loss_streak,
            "trades_today": self.trades_today,
            "trades_by_strategy": dict(self.trades_by_strategy),
        }

    def view(self, strategy_code: str, now_ns: int, symbol_net_qty: int) -> BreakerView:
        """The figures for one decision."""
        total, mine = self.orders_in_last_second(now_ns, strategy_code)
        return BreakerView(
            halted_reason=self.halted_reason,
            latched=dict(self.latched) if self.latched else {},
            realized_net=self.realized_net,
            peak_equity=self.peak_equity,
            capital=self.capital,
            loss_streak=self.loss_streak,
            trades_today=self.trades_today,
            strategy_trades_today=self.trades_by_strategy.get(strategy_code, 0),
            orders_last_second=total,
            strategy_orders_last_second=mine,
            symbol_net_qty=symbol_net_qty,
        )
