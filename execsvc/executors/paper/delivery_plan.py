"""Which shares a physical settlement moves: pure functions that plan a stock's delivery at expiry.

A stock future, and a stock option the exchange exercises in the money, settle by delivery of the
stock (``market.underlyings.physically_settled``). Per contract a position's shares go one way:
a long future or a long call, and a short put, receive them; a short future or a short call, and a
long put, give them. The exchange settles the account, not each strategy:

- in a contract, strategies long and short cross: only the account's net in it delivers, shared
  pro rata among the positions on the net's side (those that pay its settlement charges,
  ``expiry``), whole shares by the largest remainder;
- across a stock's contracts (its future and options expiring together), what one receives and
  another gives net out too: only the account's net in the stock moves, shared pro rata among the
  legs on that net's side. Each leg moves its shares at its own contract's price per share (a
  future's settlement price, an option's underlying price), the price its position closed in cash
  against; a crossed part is booked at neither (the two prices differ only as far as the paper
  broker's settlement prices approximate the exchange's one closing price).

Received shares go into the receiving strategy's CNC holding. Given shares come out of the
account's CNC holdings: the giving strategy's own first, then the other strategies' in code order
(holdings are the account's), never more than the account's net across strategies (one strategy's
CNC sale of another's holding leaves the seller's book short and the holder's long, the account
holding nothing), and not what a working CNC sell holds back (Zerodha blocks holdings for open
sell orders, ``holdings``: an after-market sale placed after the expiry day's close fills at the
next open). What the account does not hold free is a short delivery: a real broker
buys it in the exchange's auction and charges a penalty; no auction is modelled, so it is booked
as given at the settlement price and the holdings stay as they were. Not negative: CNC holdings
never go short at Zerodha (``holdings``), a negative one would be carried and marked day after day
as a short the account never had, and a later CNC BUY would "cover" it instead of adding stock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from execsvc.executors.paper.netting import apportion
from execsvc.positions import PositionKey

RECEIVED, GIVEN = "BUY", "SELL"  # the side of the CNC order that books the shares


class Leg(NamedTuple):
    """One F&O position's part of its account's delivery of a stock, before the stock nets."""

    key: PositionKey
    """The F&O position: (strategy, contract, product)."""
    shares: int
    """Positive: received; negative: given."""
    price: float
    """Per share: the contract's settlement price (future), or its underlying's price (option)."""


class Move(NamedTuple):
    """Shares one strategy's CNC holding takes in or gives out for one leg."""

    strategy: str
    qty: int
    price: float
    leg: PositionKey


class StockDelivery(NamedTuple):
    """The account's delivery of one stock at a date line: what each strategy's holding takes in
    (``received``) or gives out (``given``), and what it gives beyond its holdings (``short``,
    per leg: booked as given, holdings unchanged)."""

    symbol: str
    net: int
    received: tuple[Move, ...]
    given: tuple[Move, ...]
    short: tuple[Move, ...]
    """What legs give beyond the account's holdings, each under the giving leg's own strategy."""

    def moved(self, leg: PositionKey) -> tuple[int, int, int, float]:
        """``(received, given, short, price)`` of one leg (0s: it moves nothing)."""
        received = sum(m.qty for m in self.received if m.leg == leg)
        given = sum(m.qty for m in self.given if m.leg == leg)
        short = sum(m.qty for m in self.short if m.leg == leg)
        price = next((m.price for m in (*self.received, *self.given, *self.short) if m.leg == leg), 0.0)
        return received, given, short, price


class DeliveryOrder(NamedTuple):
    """The CNC order that books one strategy's moves: one fill per price, in the moves' order."""

    strategy: str
    side: str
    fills: tuple[tuple[float, int], ...]
    """``(price, qty)``."""
    legs: tuple[PositionKey, ...]

    @property
    def qty(self) -> int:
        """The order's whole quantity."""
        return sum(qty for _, qty in self.fills)


def contract_legs(
    positions: Mapping[tuple[str, str], int], symbol: str, sign: int, price: float
) -> list[Leg]:
    """The legs of one physically settled contract: its account net delivers, nothing else.

    Args:
        positions: ``(strategy, product) -> net quantity`` of every position in it.
        symbol: the contract.
        sign: +1 when a long position receives the shares (future, call), -1 when it gives (put).
        price: its price per share.

    Returns:
        One leg per position on the account net's side (pro rata by quantity, code order), with
        shares; none when the positions net to flat.
    """
    net = sum(positions.values())
    side = sorted(k for k, qty in positions.items() if qty and (qty > 0) == (net > 0))
    if not net or not side:
        return []
    parts = apportion(abs(net), [abs(positions[k]) for k in side])
    direction = sign if net > 0 else -sign
    return [
        Leg((strategy, symbol, product), direction * part, price)
        for (strategy, product), part in zip(side, parts, strict=True)
    ]


def plan_delivery(
    symbol: str, legs: Iterable[Leg], holdings: Mapping[str, int], reserved: int = 0
) -> StockDelivery:
    """The account's delivery of ``symbol`` (see the module docstring).

    Args:
        symbol: the stock (``NSE:<name>``, ``BSE:<name>``).
        legs: the legs of its contracts settled at the date line.
        holdings: each strategy's CNC net quantity of it before the delivery (a short one too:
            the account holds their sum).
        reserved: what the account's working CNC sells of it hold back (an after-market sale
            waiting for the open): not given, so that sale cannot take the account short.

    Returns:
        The moves, in a fixed order (legs by key, holders by code), so a restart plans the same.
    """
    legs = sorted(legs)
    net = sum(leg.shares for leg in legs)
    side = [leg for leg in legs if leg.shares and (leg.shares > 0) == (net > 0)]
    if not net:
        return StockDelivery(symbol, 0, (), (), ())
    parts = apportion(abs(net), [abs(leg.shares) for leg in side])
    if net > 0:
        received = tuple(Move(leg.key[0], part, leg.price, leg.key) for leg, part in zip(side, parts) if part)
        return StockDelivery(symbol, net, received, (), ())
    left = {strategy: qty for strategy, qty in sorted(holdings.items()) if qty > 0}
    # no more than the account holds: a strategy's CNC sale of another's holding left that one's
    # book long and its own short, the account holding neither
    free = max(sum(holdings.values()) - reserved, 0)
    need = dict(zip((leg.key for leg in side), parts, strict=True))
    given: list[Move] = []
    for leg in side:  # a strategy's own holding first: a future that hedged it delivers it
        free -= _take(leg, leg.key[0], need, left, given, free)
    for leg in side:
        for holder in list(left):
            free -= _take(leg, holder, need, left, given, free)
    short = tuple(Move(leg.key[0], need[leg.key], leg.price, leg.key) for leg in side if need[leg.key])
    return StockDelivery(symbol, net, (), tuple(given), short)


def _take(
    leg: Leg, holder: str, need: dict[PositionKey, int], left: dict[str, int], given: list[Move], free: int
) -> int:
    """Give what ``leg`` still needs from ``holder``'s holding, within the account's ``free``
    shares; returns the quantity given."""
    qty = min(need[leg.key], left.get(holder, 0), free)
    if qty:
        given.append(Move(holder, qty, leg.price, leg.key))
        need[leg.key] -= qty
        left[holder] -= qty
    return qty


def delivery_orders(plan: StockDelivery) -> list[DeliveryOrder]:
    """The CNC orders that book ``plan``: one per strategy (code order) and side, one fill per price."""
    orders = []
    for side, moves in ((RECEIVED, plan.received), (GIVEN, plan.given)):
        for strategy in sorted({m.strategy for m in moves}):
            mine = [m for m in moves if m.strategy == strategy]
            fills: dict[float, int] = {}
            for m in mine:
                fills[m.price] = fills.get(m.price, 0) + m.qty
            legs = tuple(dict.fromkeys(m.leg for m in mine))
            orders.append(DeliveryOrder(strategy, side, tuple(fills.items()), legs))
    return orders


def delivery_note(plan: StockDelivery | None, leg: PositionKey) -> str:
    """What a physically settled position's settlement message adds: where its shares went."""
    if plan is None:
        return "; physically settled: charged as a delivery"
    received, given, short, price = plan.moved(leg)
    symbol = plan.symbol
    if received:
        what = f"{received} shares of {symbol} received into CNC holdings at {_num(price)}"
    elif given:
        what = f"{given} shares of {symbol} given from CNC holdings at {_num(price)}"
    elif short:
        what = ""
    else:
        what = f"no shares of {symbol} move: the account's other positions in it net them out"
    if short:
        gap = (f"short delivery of {short} shares of {symbol} not held, booked as given at "
               f"{_num(price)}, holdings unchanged: auction not modelled")  # fmt: skip
        what = f"{what}; {gap}" if what else gap
    return f"; physically settled, charged as a delivery: {what}"


def _num(value: float) -> str:
    """A price as written, to the paisa."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
