"""Same-day CNC round trips: what of a scrip an account buys and sells CNC in one session is
charged at the intraday rates, the rest at delivery's.

Zerodha nets an account's CNC buys of a scrip against its CNC sells of the same day: the quantity
matched is an intraday (speculative) trade for charges (FACTS.md section 7: brokerage 0.03 % or ₹20
an order, whichever lower; STT 0.025 % on the sell only; stamp 0.003 % on the buy), only the rest is
delivery (no brokerage, STT 0.1 % both sides, stamp 0.015 %). Buy 100 and sell 60: 60 intraday, 40
delivery. A sale of stock carried in from an earlier day that is bought back the same day matches
too, whichever side comes first.

The rule as execsvc applies it:

- The match is per account, scrip (symbol) and trading day, across strategies (holdings and the
  contract note are the account's), in journal order: a CNC fill matches the earliest units of the
  other side not matched yet, first in first out. So after the day's last fill the matched quantity
  is ``min(bought, sold)``, and the first that many units of each side, in fill order, are intraday.
- A CNC order's value splits into an intraday part (its matched units at their fill prices) and a
  delivery part (the rest). Its charges are the delivery row's on the delivery part plus the intraday
  row's on the intraday part, each per order (brokerage capped per order, STT rounded per order).
- A fill carries what it changes of the day's charges of the scrip's CNC orders: its own order's
  and those of the earlier orders whose units it matched. The fill that makes a match therefore
  carries a credit for the earlier leg's delivery STT and stamp beyond the intraday rates and the
  debit of its intraday brokerage and stamp; its parts and total may be negative. Summed over a
  scrip's orders, the day's charges are what the rule says. A fill that matches nothing, of an
  order with no intraday part, is charged by ``costs.fill_charges`` as any delivery fill.

Charges stay a pure function of journaled facts: :class:`ScripDay` is a fold of the day's CNC fills
(:func:`book`, a step of ``state_fold``), so a restart rebuilds it and the next fill is charged as it
would have been without one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import date

from execsvc.costs import CostModel, Rates, order_brokerage, order_stt, rounded_charges, segment_for
from execsvc.events import Charges, Fill, OrderAccepted
from execsvc.rounding import round_dp

DELIVERY = "CNC"
INTRADAY = "MIS"  # the product whose equity row is the intraday one


class _Lot:
    """Units of one order not matched yet, at their fill's unit value (price * multiplier)."""

    __slots__ = ("order_id", "qty", "unit_value")

    def __init__(self, order_id: str, qty: int, unit_value: float) -> None:
        self.order_id = order_id
        self.qty = qty
        self.unit_value = unit_value


class OrderSplit:
    """One CNC order's traded value today and the intraday (matched) part of it, in rupees."""

    __slots__ = ("intraday", "side", "value")

    def __init__(self, side: str) -> None:
        self.side = side
        self.value = 0.0
        self.intraday = 0.0

    @property
    def delivery(self) -> float:
        """The part charged at delivery's rates."""
        return round_dp(self.value - self.intraday, 6)


class ScripDay:
    """An account's CNC fills of one scrip today: the units not matched yet (all of one side, oldest
    first) and each order's split. Changed only by :func:`book`."""

    __slots__ = ("lots", "orders", "side")

    def __init__(self) -> None:
        self.side = ""  # the side of ``lots``
        self.lots: deque[_Lot] = deque()
        self.orders: dict[str, OrderSplit] = {}


def matches(day: ScripDay | None, side: str, qty: int) -> tuple[list[tuple[str, int, float]], int]:
    """What a fill of ``qty`` on ``side`` would match: a pure function.

    Args:
        day: the scrip's day so far (None: no CNC fill of it yet).
        side: the fill's side.
        qty: the fill's quantity.

    Returns:
        ``(pieces, matched)``: the earlier units it matches, oldest first, as ``(order_id, qty,
        unit_value)``, and their quantity (the fill's matched quantity).
    """
    if day is None or day.side == side:
        return [], 0
    pieces, left = [], qty
    for lot in day.lots:
        if not left:
            break
        take = min(left, lot.qty)
        pieces.append((lot.order_id, take, lot.unit_value))
        left -= take
    return pieces, qty - left


def book(days: dict[str, ScripDay], fill: Fill) -> None:
    """The fold's step for a CNC fill: match it (see :func:`matches`) and keep the splits.

    Args:
        days: the state's scrip days, by symbol (a new day starts with none).
        fill: a journaled fill of product CNC.
    """
    day = days.get(fill.symbol)
    if day is None:
        day = days[fill.symbol] = ScripDay()
    pieces, matched = matches(day, fill.side, fill.qty)
    for order_id, take, unit_value in pieces:
        lot = day.lots[0]
        lot.qty -= take
        if not lot.qty:
            day.lots.popleft()
        split = day.orders[order_id]
        split.intraday = round_dp(split.intraday + unit_value * take, 6)
    unit_value = fill.price * fill.multiplier
    own = day.orders.get(fill.order_id)
    if own is None:
        own = day.orders[fill.order_id] = OrderSplit(fill.side)
    own.value = round_dp(own.value + unit_value * fill.qty, 6)
    own.intraday = round_dp(own.intraday + unit_value * matched, 6)
    if fill.qty > matched:  # the rest waits for the other side (which has nothing left unmatched)
        day.side = fill.side
        day.lots.append(_Lot(fill.order_id, fill.qty - matched, unit_value))


class _Parts:
    """Unrounded parts of a fill's charges, summed over the order values it moves."""

    __slots__ = ("brokerage", "exchange", "gst", "sebi", "stamp", "stt")

    def __init__(self) -> None:
        self.brokerage = self.stt = self.exchange = self.sebi = self.stamp = self.gst = 0.0

    def move(self, rates: Rates, side: str, before: float, delta: float) -> None:
        """Add the change in an order's charges at ``rates`` as its value there goes from ``before``
        by ``delta`` (negative: value leaves the row)."""
        if not delta:
            return
        after = round_dp(before + delta, 6)
        brokerage = order_brokerage(after, rates) - order_brokerage(before, rates)
        pct = rates.stt_buy_pct if side == "BUY" else rates.stt_sell_pct
        exchange = delta * rates.exchange_pct / 100
        sebi = delta * rates.sebi_per_crore / 1e7
        self.brokerage += brokerage
        self.stt += order_stt(after, pct) - order_stt(before, pct)
        self.exchange += exchange
        self.sebi += sebi
        self.stamp += delta * rates.stamp_buy_pct / 100 if side == "BUY" else 0.0
        self.gst += (brokerage + exchange + sebi) * rates.gst_pct / 100


def same_day_charges(
    delivery: Rates, intraday: Rates, day: ScripDay | None, order_id: str, side: str, price: float, qty: int,
    multiplier: float = 1.0,
) -> Charges | None:  # fmt: skip
    """The charges of a CNC fill that makes a same-day match, or adds to an order that has an
    intraday part: a pure function of the day's CNC fills before it (see the module docstring).

    Args:
        delivery: the equity delivery row of the fill's day.
        intraday: the equity intraday row of the fill's day.
        day: the scrip's day before the fill (None: no CNC fill of it yet).
        order_id: the fill's order.
        side: ``"BUY"`` or ``"SELL"``.
        price: the fill price.
        qty: the fill quantity.
        multiplier: the contract's (1 for equity).

    Returns:
        The fill's charges, with the credits and debits of the earlier orders it matched; None when
        the fill matches nothing and its order has no intraday part (``costs.fill_charges`` then).
    """
    if day is None:
        return None
    pieces, matched = matches(day, side, qty)
    own = day.orders.get(order_id)
    if not matched and (own is None or not own.intraday):
        return None
    parts = _Parts()
    unit_value = price * multiplier
    parts.move(delivery, side, own.delivery if own else 0.0, unit_value * (qty - matched))
    parts.move(intraday, side, own.intraday if own else 0.0, unit_value * matched)
    moved: dict[str, float] = {}
    for other, take, other_unit in pieces:
        moved[other] = moved.get(other, 0.0) + other_unit * take
    for other, value in moved.items():
        split = day.orders[other]
        parts.move(delivery, split.side, split.delivery, -value)
        parts.move(intraday, split.side, split.intraday, value)
    return rounded_charges(parts.brokerage, parts.stt, parts.exchange, parts.sebi, parts.stamp, parts.gst)


def charge_fill(
    costs: CostModel,
    days: Mapping[str, ScripDay],
    order: OrderAccepted,
    *,
    price: float,
    qty: int,
    instrument_type: str,
    trade_day: date,
    order_value_before: float,
) -> Charges:
    """The charges of one fill of ``order``: the cost model's, or for an equity CNC fill in a
    same-day round trip, :func:`same_day_charges`.

    Args:
        costs: the cost model.
        days: the state's scrip days (``ServiceState.cnc_days``).
        order: the fill's order.
        price, qty: the fill's.
        instrument_type: the Kite instrument type of the order's symbol.
        trade_day: the day whose rates apply.
        order_value_before: the order's earlier fills' value (see ``costs.fill_charges``).

    Returns:
        The fill's charges.

    Raises:
        ConfigError: no segment, row or version fits the fill.
        ValidationError: a bad side, price, quantity or prior value.
    """
    exchange = order.symbol.partition(":")[0]
    if order.product == DELIVERY and (day := days.get(order.symbol)) is not None:
        rates = costs.rates(exchange, instrument_type, DELIVERY, trade_day)
        if rates is not None and segment_for(exchange, instrument_type) == "equity":
            intraday = costs.rates(exchange, instrument_type, INTRADAY, trade_day)
            assert intraday is not None
            charges = same_day_charges(
                rates, intraday, day, order.order_id, order.side, price, qty, order.multiplier
            )
            if charges is not None:
                return charges
    return costs.charges(
        exchange=exchange,
        instrument_type=instrument_type,
        product=order.product,
        side=order.side,
        price=price,
        qty=qty,
        trade_day=trade_day,
        order_value_before=order_value_before,
        multiplier=order.multiplier,
    )
