"""Breaker decisions: pure functions of (intent, state, limits, now) that return a denial or None.

Trading states, after NautilusTrader's:

- **active**: every check applies; a loss, drawdown, streak or trade-count limit that is crossed
  *trips* and latches.
- **reducing**: once any of those has tripped, only orders that reduce an open position pass (a
  trader can always get flat); the latch holds until an explicit reset or the next IST trading day.
- **halted**: set by a call, the control API or an operator; everything but cancels is refused.

Throttles, the order-value cap and the position cap deny single orders without latching.
A denial is data: the breaker's name, a message with the figures, the value and the limit.
"""

from __future__ import annotations

import msgspec

from execsvc.config import CircuitBreakerConfig

#: Breakers that latch when they trip; while latched only reducing orders pass.
LATCHING = (
    "max_daily_loss",
    "max_daily_drawdown",
    "max_loss_streak",
    "max_trades_per_day",
    "max_trades_per_strategy_per_day",
)


class Denial(msgspec.Struct, frozen=True):
    """Why an order may not go out.

    Attributes:
        breaker: the breaker's name (``halted`` for a halt).
        message: for people, with the figures.
        value: the figure that crossed the limit.
        limit: the limit.
        trips: whether this denial is a new trip to journal (False for a halt and for an order
            refused because of an earlier, latched trip).
        latch: whether the trip latches.
        latch_key: the key it latches under (per-strategy breakers carry the strategy).
    """

    breaker: str
    message: str
    value: float = 0.0
    limit: float = 0.0
    trips: bool = True
    latch: bool = False
    latch_key: str = ""


class BreakerView(msgspec.Struct, frozen=True, kw_only=True):
    """The figures a decision needs, as of ``now``.

    ``latched`` maps latch keys (``max_daily_loss``, ``max_trades_per_strategy_per_day:S1``) to
    the message of the trip.
    """

    halted_reason: str | None = None
    latched: dict[str, str] = msgspec.field(default_factory=dict)
    realized_net: float = 0.0
    peak_equity: float = 0.0
    capital: float = 1.0
    loss_streak: int = 0
    trades_today: int = 0
    strategy_trades_today: int = 0
    orders_last_second: int = 0
    strategy_orders_last_second: int = 0
    symbol_net_qty: int = 0


def _money(value: float) -> str:
    return f"{value:,.2f}"


def reference_price(
    side: str, order_type: str, price: float | None, trigger_price: float | None, last_price: float | None
) -> float | None:
    """The price an order is valued at for the order-value cap: the most it can trade at, as known.

    A BUY with a limit (LIMIT, SL) never pays more than its limit. Anything else can trade at the
    market, whatever price it carries: a SELL LIMIT at 0.05 with the market at 1,500 sells at about
    1,500, and a price sent with a MARKET order means nothing (Kite ignores it), so it must not value
    the order either; a stop is valued at its trigger when that is higher than the last price.

    Returns:
        The price, or None when neither the order nor the market gives one.
    """
    limited = order_type in ("LIMIT", "SL") and price is not None
    if limited and side == "BUY":
        return price
    known = [last_price] if last_price is not None and last_price > 0.0 else []
    if limited and price is not None:
        known.append(price)
    if order_type in ("SL", "SL-M") and trigger_price is not None:
        known.append(trigger_price)
    return max(known) if known else None


def check_order(
    *,
    strategy_code: str,
    side: str,
    qty: int,
    reducing: bool,
    ref_price: float | None,
    view: BreakerView,
    limits: CircuitBreakerConfig,
    multiplier: float = 1.0,
) -> Denial | None:
    """Decide whether an order may go out.

    Args:
        strategy_code: the intent's strategy.
        side: ``BUY`` or ``SELL``.
        qty: the order's quantity.
        reducing: the order only reduces the strategy's open position.
        ref_price: what the order is valued at (see :func:`reference_price`; None if unknown).
        view: the state figures.
        limits: the configured limits (``None`` disables one).
        multiplier: the contract's: the order's value is ``ref_price * qty * multiplier``.

    Returns:
        None to allow, else the denial.
    """
    if view.halted_reason is not None:
        return Denial("halted", f"trading halted: {view.halted_reason}", trips=False)

    strategy_key = f"max_trades_per_strategy_per_day:{strategy_code}"
    if not reducing:
        denial = _latched(view, strategy_key, "only reducing orders pass until reset or the next day")
        if denial is None:
            denial = _check_latching(strategy_code, view, limits, strategy_key)
        if denial is not None:
            return denial

    rate = limits.max_orders_per_second
    if rate is not None and view.orders_last_second >= rate:
        return Denial(
            "max_orders_per_second",
            f"max_orders_per_second: {view.orders_last_second} orders in the last second >= {rate}",
            view.orders_last_second,
            rate,
        )
    rate = limits.max_orders_per_second_per_strategy
    if rate is not None and view.strategy_orders_last_second >= rate:
        return Denial(
            "max_orders_per_second_per_strategy",
            f"max_orders_per_second_per_strategy: {strategy_code} sent {view.strategy_orders_last_second} "
            f"orders in the last second >= {rate}",
            view.strategy_orders_last_second,
            rate,
        )
    sign = 1 if side == "BUY" else -1
    return _check_caps(
        value=ref_price * qty * multiplier if ref_price is not None else None,
        value_before=0.0,
        position_before=view.symbol_net_qty,
        position_after=view.symbol_net_qty + sign * qty,
        limits=limits,
    )


def check_modify(
    *,
    strategy_code: str,
    side: str,
    old_qty: int,
    new_qty: int,
    filled_qty: int,
    widening: bool,
    reducing: bool,
    old_ref_price: float | None,
    new_ref_price: float | None,
    view: BreakerView,
    limits: CircuitBreakerConfig,
    multiplier: float = 1.0,
) -> Denial | None:
    """Decide whether a working order may change its quantity, price, trigger or type.

    A modification must not do what a new order could not: grow what is left of an order past the
    value cap (valued as a new order for it would be) or a position past the position cap, or open
    exposure while a loss, drawdown, streak or trade-count breaker is latched (then an order that
    does not only reduce a position may only be made smaller; a cancel always passes). Whether it
    reduces counts the other working orders on its side, as for a new order: a stop can be
    tightened once its target is cancelled. It is not a new order: trade counts and throttles do
    not apply, and a change that makes nothing bigger passes whatever the market did since. A halt
    is the caller's check (only cancels pass).

    Args:
        strategy_code: the order's strategy.
        side: the order's side.
        old_qty: the order's quantity now.
        new_qty: its quantity after the change.
        filled_qty: how much of it has filled.
        widening: the change does more than cut the quantity (a bigger quantity, or a new price,
            trigger or type, which can make a resting order trade).
        reducing: the order, as changed, only reduces the strategy's open position.
        old_ref_price: what the order is valued at now (see :func:`reference_price`).
        new_ref_price: what it is valued at after the change.
        view: the state figures.
        limits: the configured limits (``None`` disables one).
        multiplier: the order's contract multiplier (its ``OrderAccepted``'s): values include it.

    Returns:
        None to allow, else the denial (``trips`` when a loss, drawdown or streak limit is crossed
        and not yet latched).
    """
    if not widening:
        return None
    if not reducing:
        strategy_key = f"max_trades_per_strategy_per_day:{strategy_code}"
        denial = _latched(
            view, strategy_key, "only changes that cut an order pass until reset or the next day"
        )
        if denial is None:
            denial = _check_latching(strategy_code, view, limits, strategy_key)
            if denial is not None and denial.breaker not in _LOSS_BREAKERS:
                denial = None  # a modification is not a trade: the trade counts are not its concern
        if denial is not None:
            return denial
    sign = 1 if side == "BUY" else -1
    return _check_caps(
        value=new_ref_price * (new_qty - filled_qty) * multiplier if new_ref_price is not None else None,
        value_before=(old_ref_price or 0.0) * (old_qty - filled_qty) * multiplier,
        position_before=view.symbol_net_qty + sign * (old_qty - filled_qty),
        position_after=view.symbol_net_qty + sign * (new_qty - filled_qty),
        limits=limits,
    )


_LOSS_BREAKERS = ("max_daily_loss", "max_daily_drawdown", "max_loss_streak")


def _check_caps(
    *,
    value: float | None,
    value_before: float,
    position_before: int,
    position_after: int,
    limits: CircuitBreakerConfig,
) -> Denial | None:
    """The order-value and position caps: what an order (or a change) would make bigger than they allow.

    ``value`` is None when nothing prices the order; a value or position that does not grow passes.
    """
    cap = limits.max_order_value_rupees
    if cap is not None:
        if value is None:
            return Denial("max_order_value", "max_order_value: no price to value the order against", 0.0, cap)
        if value > cap and value > value_before:
            return Denial("max_order_value", f"max_order_value: {_money(value)} > {_money(cap)}", value, cap)
    max_pos = limits.max_position_per_symbol
    if max_pos is not None:
        after = position_after
        if abs(after) > max_pos and abs(after) > abs(position_before):
            return Denial(
                "max_position_per_symbol",
                f"max_position_per_symbol: position would be {after} > {max_pos} in absolute size",
                abs(after),
                max_pos,
            )
    return None


def _latched(view: BreakerView, strategy_key: str, what_passes: str) -> Denial | None:
    """The denial of a breaker that already tripped (latched for the day, or for the strategy)."""
    for key in (*_LOSS_BREAKERS, "max_trades_per_day", strategy_key):
        if key in view.latched:
            breaker = key.partition(":")[0]
            return Denial(breaker, f"{view.latched[key]} (tripped; {what_passes})", trips=False)
    return None


def _check_latching(
    strategy_code: str, view: BreakerView, limits: CircuitBreakerConfig, strategy_key: str
) -> Denial | None:
    loss_limit = limits.max_daily_loss_rupees
    if loss_limit is not None and view.realized_net < -loss_limit:
        figures = f"realized {_money(view.realized_net)} < {_money(-loss_limit)}"
        return _trip("max_daily_loss", figures, view.realized_net, -loss_limit)
    dd_limit = limits.max_daily_drawdown_pct
    if dd_limit is not None:
        equity = view.capital + view.realized_net
        drawdown = (view.peak_equity - equity) / view.capital
        if drawdown > dd_limit:
            figures = (
                f"{drawdown:.2%} > {dd_limit:.2%} (peak {_money(view.peak_equity)}, equity {_money(equity)})"
            )
            return _trip("max_daily_drawdown", figures, drawdown, dd_limit)
    streak = limits.max_loss_streak
    if streak is not None and view.loss_streak >= streak:
        figures = f"{view.loss_streak} consecutive losing trades >= {streak}"
        return _trip("max_loss_streak", figures, view.loss_streak, streak)
    trades = limits.max_trades_per_day
    if trades is not None and view.trades_today >= trades:
        figures = f"{view.trades_today} orders today >= {trades}"
        return _trip("max_trades_per_day", figures, view.trades_today, trades)
    per_strategy = limits.max_trades_per_strategy_per_day
    if per_strategy is not None and view.strategy_trades_today >= per_strategy:
        figures = f"{strategy_code} placed {view.strategy_trades_today} orders today >= {per_strategy}"
        breaker = "max_trades_per_strategy_per_day"
        return _trip(breaker, figures, view.strategy_trades_today, per_strategy, latch_key=strategy_key)
    return None


def _trip(breaker: str, figures: str, value: float, limit: float, *, latch_key: str = "") -> Denial:
    """A new trip of a latching breaker, its message ``"{breaker}: {figures}"``, latched under the
    breaker's name (which :func:`_latched` looks up) or ``latch_key`` (a per-strategy breaker's)."""
    return Denial(breaker, f"{breaker}: {figures}", value, limit, latch=True, latch_key=latch_key or breaker)
