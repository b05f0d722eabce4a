"""The simulated exchange's settlement of F&O contracts at their expiry (paper and dry-run).

A futures or options contract trades up to its expiry, its last trading day (the ``expiry`` column
of the instruments dump, ``market/instruments.py``); the exchange then settles every position still
open in it and ends its orders. Live, the broker does that and reconciliation reads it; paper and
dry-run have no broker to do it, so at the date line after the expiry day (``expire_all``, after
the MIS auto square-off) the simulated broker:

- ends the orders still working for a contract that has expired, such as an after-market order
  placed after the expiry day's close (every other order has ended with the day already);
- closes each position in it at its last price: the day's last tick (else the last session's,
  else, after a restart that day or at a start after a missed date line, the last price that day's
  journal knows, ``last_day.journal_marks``). That approximates the exchange's final settlement price for a
  future;
- but settles each position in an NFO or BFO option whose underlying's last price it knows (found
  the same way: ``market/underlyings.py`` names the underlying) at the option's intrinsic value,
  as the exchange exercises it: CE ``max(0, S - K)``, PE ``max(0, K - S)``; out of the money, 0.
  Where the underlying's price is unknown the option closes at its last premium, as before, and
  its result says so.

Each close is journaled in the day being closed (the expiry day, or the last day journaled before
it when the service skipped it) like any order, so its profit or loss is booked there: the intent
(``expiry-<day>-<n>``, the position's strategy and product, and in its ``metadata`` the expiry and
the contract's last price; for an exercise also ``settlement_price``, ``underlying`` and
``underlying_price``), its acceptance, one fill of the whole quantity at the settlement price
(``liquidity`` ``settlement``) and a FILLED result whose message names the contract, its expiry and
how it was priced. A settlement is no trade: its fill has no exchange charge, SEBI fee or stamp.
What Zerodha charges for it (``execsvc.settlement_costs``, rates of the expiry day, every one
UNCONFIRMED) is journaled in the fill's ``charges``, so a restart folds it and computes nothing:

- an index option in the money (cash-settled): its long side pays STT at the exercise rate
  (``stt_exercise_pct``: FACTS section 7, 0.15 % from 1 Apr 2026, 0.125 % before) on the
  intrinsic value (``price x qty x multiplier``), rounded to the rupee as an order's STT; long and
  short pay ``exercise_brokerage_per_order`` for each order of the exit (the quantity sliced by
  its freeze quantity, ``freeze_sizes``; one without one), plus GST;
- a stock future, and a stock option in the money, is physically settled: both sides pay STT
  ``physical_stt_pct`` and brokerage ``physical_brokerage_pct`` (+ GST) of the contract value
  (strike x qty for an option, the settlement price x qty for a future), and no exercise STT. The
  position closes in cash at its settlement price (intrinsic value, or the future's last price),
  and the shares are delivered (``delivery``): the account's net delivery of each stock, across its
  contracts, becomes a CNC holding change at the contracts' price per share (the future's
  settlement price, the option's underlying price), which with the cash close books what taking
  the shares at that price would. The result says where its shares went ("physically settled,
  charged as a delivery: 400 shares of NSE:INFY received into CNC holdings at 1562"; given from
  them; a short delivery, "auction not modelled"). A rate table written before
  ``physical_stt_pct`` (None) knows no physical settlement: such contracts are charged as before
  (a stock option as an index one's STT, a stock future nothing), nothing is delivered, and the
  message says nothing of delivery;
- an index future, and an option out of the money, pay nothing.

The exchange settles the account's net position in a contract, not each strategy's (as the broker's
square-off, ``netting``): strategies long and short of it cross within the account and the exchange
settles only the net. So the charges are those of the net quantity, on its side (a net long option
pays the exercise STT), shared out pro rata among the positions on that side; a position on the
other side, or one whose contract nets to flat, is closed at the same price and pays nothing. The
net is the positions' before this line settled any of them (their settlements journaled so far
count back in), so a restart midway shares out the same charges.

Not modelled: the exchange's own final settlement price (the underlying's closing value for an
index future; the underlying's last tick stands in for the exchange's closing price of an
option's underlying), an MCX or currency option's exercise (it closes at its last premium), and
a short delivery's auction (``delivery``). A stock option whose underlying's price is unknown
closes at its last premium charge-free: whether it was in the money is unknown.

A position that cannot be priced (no tick of its contract since the service started, and none in
the journal) is not closed: it is left out of the next day (``PositionsCarried.expired``) with a
warning, unbooked, as a live one the broker settled. A restart after a kill in the middle of this
goes on where it stopped: positions already closed are flat, a close cut short was settled at the
start (``execsvc.interrupted``), a new close takes an id not journaled yet, and the price of a
contract whose close was journaled (its intent carries the price) stays the same. An option's
settlement price stays the same too: the line journals its underlying's last tick first, with the
contracts' (``day_closes``), and past the close the underlying of an option expiring that day is
journaled with what is held (``session_closes``), so a restart prices it as the running service did.
The shares of the physically settled ones are delivered before any close (``delivery``): while a
delivery is owed the contracts are still open, so a restart finds the line unfinished
(``last_day.missed_day``) and delivers what the journal does not hold yet, the same moves.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from execsvc.clock import trading_day
from execsvc.events import Charges, ExecutionResult
from execsvc.executors.base import accepted, closing_intent
from execsvc.executors.paper.delivery import deliver, plan_deliveries
from execsvc.executors.paper.delivery_plan import Leg, contract_legs, delivery_note
from execsvc.executors.paper.netting import share_out
from execsvc.market.freeze import freeze_sizes
from execsvc.market.underlyings import (
    OPTION_KINDS,
    cash_symbol,
    intrinsic_value,
    physically_settled,
    underlying_of,
)
from execsvc.rounding import round_dp
from execsvc.settlement_costs import charged_parts, index_exercise_charges, physical_settlement_charges
from execsvc.state import EXPIRY_PREFIX

if TYPE_CHECKING:
    from execsvc.costs import Rates
    from execsvc.executors.paper.executor import PaperExecutor
    from execsvc.positions import Position

log = logging.getLogger("execsvc.paper")

SETTLEMENT = "settlement"  # the fills' liquidity: a settlement, not a trade against the book


def settlement_reason(symbol: str, expiry: date, price: float) -> str:
    """The message of a settlement's intent and result."""
    return (f"expiry settlement: {symbol} expired on {expiry.isoformat()}; closed at its last price "
            f"{price:g} (the exchange's final settlement, approximated)")  # fmt: skip


def premium_reason(symbol: str, expiry: date, price: float, underlying: str | None) -> str:
    """The message of an option's settlement at its last price: its underlying's price is unknown."""
    which = "its underlying is unknown"
    if underlying is not None:
        which = f"the price of its underlying {underlying} is unknown"
    return (f"expiry settlement: {symbol} expired on {expiry.isoformat()}; closed at its last price "
            f"{_num(price)}: {which}, so its exercise is not modelled")  # fmt: skip


def exercise_reason(
    symbol: str, expiry: date, value: float, underlying: str, spot: float, strike: float
) -> str:
    """The message of an option's settlement at its intrinsic ``value`` (0: out of the money)."""
    how = f"exercised at its intrinsic value {_num(value)}" if value else "worthless: out of the money"
    return (f"expiry settlement: {symbol} expired on {expiry.isoformat()}; {how} "
            f"({underlying} at {_num(spot)}, strike {_num(strike)})")  # fmt: skip


def _num(value: float) -> str:
    """A price as written, to the paisa (``:g`` keeps 6 digits: 26237.35 would read 26237.4)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def ended_reason(symbol: str, expiry: date) -> str:
    """Why an order for an expired contract stopped working."""
    return f"{symbol} expired on {expiry.isoformat()}: its orders end with the contract"


def settle_expired(paper: PaperExecutor, now_ns: int) -> list[ExecutionResult]:
    """At the date line into ``now_ns``'s day: end the orders for contracts that expired before it,
    then close the positions in them (see the module docstring): a future at its last price, an
    option at its intrinsic value when its underlying's last price is known, else at its last price;
    the shares of the physically settled ones are delivered first (``delivery``).

    Returns:
        The FILLED results of the deliveries, then of the closes in the order of the positions.
    """
    state = paper.state
    today = trading_day(now_ns)
    expiry_of = paper.instruments.expiry
    for record in state.working_orders():
        symbol = record.order.symbol
        expiry = expiry_of(symbol)
        if expiry is not None and expiry < today:
            paper.cancel_working(record, now_ns, ended_reason(symbol, expiry))
    day = state.day.replace("-", "")
    held = _held_before_settlement(paper, f"{EXPIRY_PREFIX}{day}-")
    deliveries = plan_deliveries(state, _delivery_legs(paper, held, today))
    # the shares move before any contract closes: a kill in between leaves the contracts open, so
    # a restart finds the line unfinished (``last_day.missed_day``) and plans the same moves
    results = deliver(paper, deliveries, now_ns)
    n = 0
    for position in list(state.positions.values()):
        expiry = expiry_of(position.symbol) if position.net_qty else None
        if expiry is None or expiry >= today:
            continue
        last = _last_price(paper, position.symbol)
        if last is None:
            log.warning("expiry of %s on %s: no price since the start: %s %s %+d left unsettled "
                        "(not carried)", position.symbol, expiry, position.strategy_code,
                        position.product, position.net_qty)  # fmt: skip
            continue
        n += 1
        # an id of its own: one journaled before a crash stays that close's (settled at the restart)
        while f"{EXPIRY_PREFIX}{day}-{n}" in state.intent_ids:
            n += 1
        sides = held.get(position.symbol, {})
        net = sum(sides.values())  # the account's, which the exchange settles
        cash = _delivered_stock(paper, position.symbol)
        delivery = deliveries.get(cash) if cash is not None else None
        note = delivery_note(delivery.plan if delivery else None, position.key)
        settled = _settlement(paper, position, expiry, last, net, note)
        intent = closing_intent(position, f"{EXPIRY_PREFIX}{day}-{n}", settled.reason, now_ns)
        intent = msgspec.structs.replace(intent, metadata=settled.metadata)
        paper.emit(intent)
        order_id = state.next_order_id()
        paper.emit(accepted(intent, order_id, True, now_ns, position.multiplier))
        record = state.orders[order_id]
        whole = settlement_charges(paper, position, settled, expiry, net)
        charges = _share(whole, position, sides)
        paper.book_fill(record, intent.qty, settled.price, now_ns, SETTLEMENT, charges=charges)
        results.append(paper.result(record, "FILLED", now_ns, settled.reason))
        log.warning("%s %s %+d at %g: %s", position.strategy_code, position.product,
                    position.net_qty, settled.price, settled.reason)  # fmt: skip
    return results


def _delivered_stock(paper: PaperExecutor, symbol: str) -> str | None:
    """The stock a contract delivers (None: not physically settled)."""
    inst = paper.instruments.by_key(symbol)
    if inst is None or not physically_settled(inst, paper.instruments.by_key):
        return None
    return cash_symbol(inst)


def _delivery_legs(
    paper: PaperExecutor, held: dict[str, dict[tuple[str, str], int]], today: date
) -> dict[str, list[tuple[Leg, date]]]:
    """The legs of every stock's delivery at this line, by stock: each expired, physically settled
    contract the broker can price (a future; an option in the money against its underlying's
    price), from the positions as the line began (``held``), and its expiry."""
    legs: dict[str, list[tuple[Leg, date]]] = {}
    for symbol, positions in held.items():
        expiry = paper.instruments.expiry(symbol)
        stock = _delivered_stock(paper, symbol) if expiry is not None and expiry < today else None
        if stock is None or expiry is None or not any(positions.values()):
            continue
        products = sorted({product for _, product in positions})
        if not all(_delivery_rates(paper, symbol, product, expiry) for product in products):
            continue
        terms = _per_share(paper, symbol)
        mine = contract_legs(positions, symbol, *terms) if terms is not None else []
        if mine:
            legs.setdefault(stock, []).extend((leg, expiry) for leg in mine)
    return legs


def _per_share(paper: PaperExecutor, symbol: str) -> tuple[int, float] | None:
    """How a long position in a physically settled contract moves shares (+1 received, -1 given)
    and at what price per share: a future at its settlement price, an option in the money at its
    underlying's price; None when it delivers nothing (out of the money) or cannot be priced (it
    is left unsettled, or closes at its last premium)."""
    last = _last_price(paper, symbol)
    inst = paper.instruments.by_key(symbol)
    if last is None or inst is None:
        return None
    if inst.instrument_type not in OPTION_KINDS:
        return 1, last
    underlying = underlying_of(inst)
    spot = _last_price(paper, underlying) if underlying is not None else None
    if spot is None or intrinsic_value(inst.instrument_type, inst.strike, spot) <= 0:
        return None
    return (1 if inst.instrument_type == "CE" else -1), spot


class Settlement(NamedTuple):
    """How an expired contract's positions close: the price, the message, the intent's metadata,
    whether an option in the money was exercised, and for a physically settled stock contract the
    price per share its delivery is charged at (the strike, or the future's settlement price)."""

    price: float
    reason: str
    metadata: dict[str, Any]
    exercised: bool = False
    delivered_at: float | None = None


def _held_before_settlement(paper: PaperExecutor, prefix: str) -> dict[str, dict[tuple[str, str], int]]:
    """Each symbol's positions, ``(strategy, product) -> net quantity``, as they were before this
    date line's settlements (intent ids starting with ``prefix``) closed any: the open ones plus
    what those settlements filled, so a restart midway sees the account's net as the line began."""
    held: dict[str, dict[tuple[str, str], int]] = {}
    for position in paper.state.positions.values():
        if position.net_qty:
            key = (position.strategy_code, position.product)
            mine = held.setdefault(position.symbol, {})
            mine[key] = mine.get(key, 0) + position.net_qty
    for record in paper.state.orders.values():
        order = record.order
        if record.filled_qty and order.intent_id.startswith(prefix):
            key = (order.strategy_code, order.product)
            mine = held.setdefault(order.symbol, {})
            closed = record.filled_qty if order.side == "SELL" else -record.filled_qty
            mine[key] = mine.get(key, 0) + closed
    return held


def _on_the_net_side(qty: int, net: int) -> bool:
    """Whether a position of ``qty`` is on the side of the account's ``net`` (0: neither is)."""
    return net != 0 and (qty > 0) == (net > 0)


def _share(whole: Charges, position: Position, sides: dict[tuple[str, str], int]) -> Charges:
    """``position``'s share of ``whole``, the charges of its account's net settlement: pro rata by
    quantity among the positions on the net's side (in a fixed order, so a restart shares the same),
    nothing for one on the other side."""
    net = sum(sides.values())
    if whole == Charges() or not _on_the_net_side(position.net_qty, net):
        return Charges()
    keys = sorted(k for k, qty in sides.items() if _on_the_net_side(qty, net))
    shares = share_out(whole, [abs(sides[k]) for k in keys])
    share = shares[keys.index((position.strategy_code, position.product))]
    return charged_parts(share)


def _settlement(
    paper: PaperExecutor, position: Position, expiry: date, last: float, net: int, delivered_note: str
) -> Settlement:
    """The settlement of ``position``'s contract, whose last price is ``last``, from the prices the
    broker knows; ``net`` is the account's net quantity in it, which the exchange settles;
    ``delivered_note`` says where its shares went if it is physically settled."""
    symbol = position.symbol
    metadata: dict[str, Any] = {"expiry": expiry.isoformat(), "last_price": last}
    inst = paper.instruments.by_key(symbol)
    delivered = (
        inst is not None
        and _on_the_net_side(position.net_qty, net)
        and physically_settled(inst, paper.instruments.by_key)
        and _delivery_rates(paper, position.symbol, position.product, expiry)
    )
    note = delivered_note if delivered else ""
    if inst is None or inst.instrument_type not in OPTION_KINDS:
        reason = settlement_reason(symbol, expiry, last) + note
        return Settlement(last, reason, metadata, delivered_at=last if delivered else None)
    underlying = underlying_of(inst)
    spot = _last_price(paper, underlying) if underlying is not None else None
    if underlying is None or spot is None:
        return Settlement(last, premium_reason(symbol, expiry, last, underlying), metadata)
    value = intrinsic_value(inst.instrument_type, inst.strike, spot)
    metadata |= {"settlement_price": value, "underlying": underlying, "underlying_price": spot}
    reason = exercise_reason(symbol, expiry, value, underlying, spot, inst.strike)
    if delivered and value > 0:
        return Settlement(value, reason + note, metadata, exercised=True, delivered_at=inst.strike)
    return Settlement(value, reason, metadata, exercised=value > 0)


def _delivery_rates(paper: PaperExecutor, symbol: str, product: str, expiry: date) -> bool:
    """Whether the expiry day's rates know a physical settlement (a table written before
    ``physical_stt_pct`` does not: nothing is delivered); with charges off, nothing is charged but
    the shares are delivered."""
    rates = _rates(paper, symbol, product, expiry)
    return rates is None or rates.physical_stt_pct is not None


def settlement_charges(
    paper: PaperExecutor, position: Position, settled: Settlement, expiry: date, net: int
) -> Charges:
    """What the exchange's settlement of the account's ``net`` quantity in ``position``'s contract
    costs (the module docstring; ``settlement_costs``): delivery's STT and brokerage on a physically
    settled stock contract, the exercise STT (net long) and brokerage per freeze-sliced order on an
    index option in the money, else nothing (and nothing when ``net`` is 0)."""
    if (settled.delivered_at is None and not settled.exercised) or net == 0:
        return Charges()
    rates = _rates(paper, position.symbol, position.product, expiry)
    if rates is None:
        return Charges()
    qty = abs(net)
    if settled.delivered_at is not None:
        value = round_dp(settled.delivered_at * qty * position.multiplier, 6)
        return physical_settlement_charges(rates, contract_value=value)
    orders = len(freeze_sizes(qty, paper.instruments.by_key(position.symbol), paper.freeze))
    value = round_dp(settled.price * qty * position.multiplier, 6)
    return index_exercise_charges(rates, value=value, long=net > 0, orders=orders)


def _rates(paper: PaperExecutor, symbol: str, product: str, expiry: date) -> Rates | None:
    """The rate row of a contract on its expiry day (None: charges are off)."""
    exchange = symbol.partition(":")[0]
    kind = paper.instruments.instrument_type(symbol)
    return paper.costs.rates(exchange, kind, product, expiry)


def _last_price(paper: PaperExecutor, symbol: str) -> float | None:
    """Today's last tick, else the last session's, else the price the journal knows (a restart)."""
    tick = paper.market.get(symbol) or paper.closes.get(symbol)
    if tick is not None:
        return tick.last_price
    mark = paper.journal_marks.get(symbol)
    return mark.last_price if mark is not None else None
