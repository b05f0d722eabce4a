"""Sample strategies: a moving-average crossover (MARKET orders) and a mean reversion (resting LIMITs).

They exist to exercise the pipeline and to show the shape of a strategy, not to make money.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from execsvc.clock import ist_ns, trading_day
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.market.ticks import Tick
from execsvc.strategies.base import StrategyContext


def next_day_ns(now_ns: int) -> int:
    """The first nanosecond of the IST day after ``now_ns``'s: where a breaker's latch ends (the
    service resets daily breakers at the date line), and so a strategy's stop that follows one."""
    return ist_ns(trading_day(now_ns) + timedelta(days=1), 0, 0)


class NoOp:
    """Sees every tick and does nothing (the replay benchmark's floor)."""

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        """Do nothing."""

    def on_result(self, result: ExecutionResult, ctx: StrategyContext) -> None:
        """Do nothing."""


class MovingAverageCross:
    """Long when the fast average of the last price crosses above the slow one, flat (or short) below.

    Args:
        fast: ticks in the fast average (ticks, not time: a sample day has a tick every few seconds).
        slow: ticks in the slow average.
        qty: order quantity.
        allow_short: sell short on a down-cross instead of only going flat.
        strategy_code: the code stamped on intents.
    """

    def __init__(
        self,
        fast: int = 50,
        slow: int = 200,
        qty: int = 10,
        allow_short: bool = False,
        strategy_code: str = "MAX",
    ) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"fast={fast}, slow={slow}: need 0 < fast < slow")
        self.fast, self.slow, self.qty, self.allow_short = fast, slow, qty, allow_short
        self.strategy_code = strategy_code
        self._windows: dict[str, deque[float]] = {}
        self._sums: dict[str, tuple[float, float]] = {}
        self._above: dict[str, bool] = {}
        self.exits_only_reason: str | None = None
        self._exits_only_until = 0  # the next day: the breakers start afresh there

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        """Update the averages; trade on a cross."""
        symbol = tick.symbol
        window = self._windows.get(symbol)
        if window is None:
            window = self._windows[symbol] = deque(maxlen=self.slow)
        window.append(tick.last_price)
        if len(window) < self.slow:
            return
        prices = list(window)
        fast_avg = sum(prices[-self.fast :]) / self.fast
        slow_avg = sum(prices) / self.slow
        above = fast_avg > slow_avg
        was_above = self._above.get(symbol)
        self._above[symbol] = above
        if was_above is None or above == was_above:
            return
        held = ctx.position(symbol)
        target = self.qty if above else (-self.qty if self.allow_short else 0)
        if self.exits_only_reason is not None:
            if ctx.now_ns() >= self._exits_only_until:
                self.exits_only_reason = None
            elif abs(target) > abs(held):
                target = 0
        delta = target - held
        if delta:
            ctx.submit(
                OrderIntent(
                    symbol=symbol,
                    strategy_code=self.strategy_code,
                    side="BUY" if delta > 0 else "SELL",
                    qty=abs(delta),
                    reason=f"fast {fast_avg:.2f} {'>' if above else '<'} slow {slow_avg:.2f}",
                    intent_id=ctx.next_intent_id(),
                )
            )

    def on_result(self, result: ExecutionResult, ctx: StrategyContext) -> None:
        """After a breaker refuses an order, only exits are sent (they are allowed: they reduce), for
        the rest of the day."""
        if result.status == "REJECTED" and (result.reject_reason or "").startswith("breaker:"):
            self.exits_only_reason = result.message
            self._exits_only_until = next_day_ns(ctx.now_ns())


class MeanReversion:
    """Rests a LIMIT order a few ticks away from a moving average and exits at the average.

    Buys below the average when flat; once long, rests a SELL at the average. One working order per
    symbol at a time; a working order that has not filled in ``max_wait`` ticks is left to the end
    of the day (the journal shows it as working).

    Args:
        window: ticks in the average.
        offset_ticks: how many ticks of the instrument below the average to bid.
        qty: order quantity.
        tick_size: the price grid.
        strategy_code: the code stamped on intents.
    """

    def __init__(
        self,
        window: int = 60,
        offset_ticks: int = 10,
        qty: int = 10,
        tick_size: float = 0.05,
        strategy_code: str = "MRV",
    ) -> None:
        self.window, self.offset_ticks, self.qty, self.tick_size = window, offset_ticks, qty, tick_size
        self.strategy_code = strategy_code
        self._prices: dict[str, deque[float]] = {}
        self._working: dict[str, str] = {}
        self.stopped_reason: str | None = None
        self._stopped_until = 0  # the next day: the breakers start afresh there

    def _grid(self, price: float) -> float:
        return round(round(price / self.tick_size) * self.tick_size, 2)

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        """Rest an entry or an exit when nothing is working on the symbol."""
        symbol = tick.symbol
        prices = self._prices.get(symbol)
        if prices is None:
            prices = self._prices[symbol] = deque(maxlen=self.window)
        prices.append(tick.last_price)
        if len(prices) < self.window or symbol in self._working:
            return
        if self.stopped_reason is not None:
            if ctx.now_ns() < self._stopped_until:
                return
            self.stopped_reason = None
        mean = sum(prices) / len(prices)
        held = ctx.position(symbol)
        if held == 0:
            side, price = "BUY", self._grid(mean - self.offset_ticks * self.tick_size)
            if price >= tick.last_price:
                return
        elif held > 0:
            side, price = "SELL", max(self._grid(mean), self._grid(tick.last_price + self.tick_size))
        else:
            return
        intent_id = ctx.next_intent_id()
        self._working[symbol] = intent_id
        ctx.submit(
            OrderIntent(
                symbol=symbol,
                strategy_code=self.strategy_code,
                side=side,
                qty=abs(held) if held else self.qty,
                order_type="LIMIT",
                price=price,
                reason=f"mean {mean:.2f}",
                intent_id=intent_id,
            )
        )

    def on_result(self, result: ExecutionResult, ctx: StrategyContext) -> None:
        """Free the symbol once its working order is done; stop for the day when a breaker says no."""
        if result.status == "REJECTED" and (result.reject_reason or "").startswith("breaker:"):
            self.stopped_reason = result.message
            self._stopped_until = next_day_ns(ctx.now_ns())
        if (
            result.status in ("FILLED", "CANCELLED", "REJECTED")
            and self._working.get(result.symbol) == result.intent_id
        ):
            del self._working[result.symbol]
