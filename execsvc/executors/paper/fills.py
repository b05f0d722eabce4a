"""Fill simulation: pure functions from (order, market state, model) to fills.

Rules (the SmartFillSimulator of the original design, grown up):

- MARKET: BUY at LTP x (1 + slippage_bps/10,000), SELL at LTP x (1 - slippage_bps/10,000), rounded to
  the tick *against* the trader (BUY up, SELL down). With ``use_bid_ask_spread`` and a quote
  present: at the best ask (BUY) or best bid (SELL).
- LIMIT: fills at once only if marketable and never at a price worse than the limit.
- With ``use_depth`` and depth present: an aggressive order walks the five levels of the other
  side; what the book cannot fill is left over, and liquidity a fill consumed stays consumed until
  the instrument's next tick.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from execsvc.events import OrderAccepted, OrderIntent
from execsvc.market.ticks import DepthLevel, Tick
from execsvc.rounding import round_dp
from execsvc.validation import MAX_PRICE


class FillModel(NamedTuple):
    """The paper fill model's settings (from ``execution`` in the config)."""

    slippage_bps: float = 5.0
    use_bid_ask_spread: bool = False
    use_depth: bool = False


Consumed = dict[float, int]
"""Quantity already taken at each price level since the instrument's last tick."""


def round_to_tick(price: float, tick_size: float, side: str) -> float:
    """Round to the tick grid against the trader: a BUY rounds up, a SELL down.

    A price already on the grid stays where it is: the count of ticks is allowed float noise that
    grows with it (a price of 8 lakh is 16 million ticks of 0.05, and its quotient can be off by
    more than 1e-9 of a tick).
    """
    steps = price / tick_size
    noise = 1e-9 + abs(steps) * 1e-12
    whole = math.ceil(steps - noise) if side == "BUY" else math.floor(steps + noise)
    return round_dp(whole * tick_size, 8)


def _crosses(side: str, price: float, limit: float | None) -> bool:
    if limit is None:
        return True
    return price <= limit + 1e-9 if side == "BUY" else price >= limit - 1e-9


def _walk(
    levels: tuple[DepthLevel, ...], side: str, qty: int, limit: float | None, consumed: Consumed
) -> list[tuple[int, float]]:
    fills: list[tuple[int, float]] = []
    remaining = qty
    for level in levels:
        if remaining <= 0:
            break
        if level.quantity <= 0 or level.price <= 0 or not _crosses(side, level.price, limit):
            continue
        available = level.quantity - consumed.get(level.price, 0)
        if available <= 0:
            continue
        take = min(available, remaining)
        fills.append((take, level.price))
        consumed[level.price] = consumed.get(level.price, 0) + take
        remaining -= take
    return fills


def aggressive_fills(
    side: str,
    qty: int,
    limit: float | None,
    tick: Tick,
    model: FillModel,
    tick_size: float,
    consumed: Consumed,
) -> list[tuple[int, float]]:
    """Fills of an order that takes liquidity now (MARKET, or LIMIT at ``limit``).

    Args:
        side: ``BUY`` or ``SELL``.
        qty: quantity wanted.
        limit: the limit price, or None for a MARKET order.
        tick: the instrument's latest tick.
        model: the fill model.
        tick_size: the instrument's tick.
        consumed: depth already taken since this tick (updated in place).

    Returns:
        ``[(qty, price), ...]`` in fill order; may total less than ``qty`` (depth ran out, or a
        LIMIT is not marketable at all).
    """
    depth = tick.depth
    if model.use_depth and depth is not None:
        levels = depth.sell if side == "BUY" else depth.buy
        if levels:
            return _walk(levels, side, qty, limit, consumed)
    if model.use_bid_ask_spread:
        best = tick.best_ask if side == "BUY" else tick.best_bid
        if best is not None:
            return [(qty, best.price)] if _crosses(side, best.price, limit) else []
    ltp = tick.last_price
    if not _crosses(side, ltp, limit):
        return []
    factor = 1 + model.slippage_bps / 10_000 if side == "BUY" else 1 - model.slippage_bps / 10_000
    price = round_to_tick(ltp * factor, tick_size, side)
    if limit is not None:
        price = min(price, limit) if side == "BUY" else max(price, limit)
    return [(qty, price)]


def resting_fills(
    side: str,
    qty: int,
    limit: float,
    tick: Tick,
    model: FillModel,
    consumed: Consumed,
) -> list[tuple[int, float]]:
    """Fills of a resting LIMIT order on a new tick: at its own price, once the market crosses it.

    A resting order is passive: when the other side trades through its price it fills at the
    limit. With ``use_depth`` the quantity is capped by the crossing liquidity not yet consumed.
    """
    depth = tick.depth
    if model.use_depth and depth is not None:
        levels = depth.sell if side == "BUY" else depth.buy
        if levels:
            taken = _walk(levels, side, qty, limit, consumed)
            filled = sum(q for q, _ in taken)
            return [(filled, limit)] if filled else []
    ref = tick.last_price
    if model.use_bid_ask_spread:
        best = tick.best_ask if side == "BUY" else tick.best_bid
        if best is not None:
            ref = best.price
    return [(qty, limit)] if _crosses(side, ref, limit) else []


def stop_triggered(side: str, trigger: float, last_price: float) -> bool:
    """Whether a stop is hit: a BUY stop when the price rises to its trigger, a SELL stop when it falls."""
    return last_price >= trigger - 1e-9 if side == "BUY" else last_price <= trigger + 1e-9


def entry_refusal(
    intent: OrderIntent | OrderAccepted, tick: Tick | None, *, at_open: bool = False
) -> tuple[str, str] | None:
    """Why the simulator will not take an order now, as ``(reason, message)``, or None.

    An order needs a tick to be priced against (an after-market order does not: it waits for the
    open, nor does a future taken in the F&O pre-open, ``at_open``: no price of the auction is
    simulated, it meets the market at the open), and a stop whose trigger the last price already
    crossed would trigger at once: Kite rejects that too.
    """
    if intent.variety == "amo" or at_open:
        return None
    if tick is None:
        return "no_market_data", f"no market data for {intent.symbol}: the simulator needs a tick first"
    if intent.order_type in ("SL", "SL-M"):
        trigger = intent.trigger_price or 0.0
        if stop_triggered(intent.side, trigger, tick.last_price):
            where = "at or below" if intent.side == "BUY" else "at or above"
            return "trigger_crossed", (
                f"trigger_price {trigger} is {where} the last price {tick.last_price}: "
                "the stop would trigger at once (Kite rejects this too)"
            )
    return None


def sound_last_price(last: object) -> bool:
    """Whether a tick's last price may move the book: above 0 (Kite sends 0 for an instrument not
    traded yet; NaN fails too) and at most ``MAX_PRICE``, the most an order may name (a MARKET order
    would fill at 1e300); a library caller's ``"1500"`` or None is no price at all."""
    try:
        return bool(0.0 < last <= MAX_PRICE)  # type: ignore[operator]
    except TypeError:
        return False
