"""The simulated exchange's physical settlement: a stock's delivery into (or out of) CNC holdings.

At the date line after a stock F&O contract's expiry (``expiry``) its positions close in cash at
the settlement price, and the account's net delivery of each stock (``delivery_plan``) moves the
shares, in the day being closed, before any close of that line (so while a delivery is owed the
contracts are still open: a restart after a kill finds the line unfinished, ``last_day``):

- received shares: a CNC BUY of the stock (``NSE:<name>`` for NFO, ``BSE:<name>`` for BFO) under
  the receiving strategy, at its contract's price per share, so they are held the next day at that
  cost and a CNC SELL of them fills;
- given shares: a CNC SELL from the holdings that have them, at that price (a holding bought
  lower realises the difference, as a sale at the settlement price would);
- a short delivery (given, not held, or held back by a working CNC sell: an after-market sale
  waiting for the open): no order, holdings unchanged; the settlement's result says
  "short delivery ...: auction not modelled" and a WARNING is logged.

Each is journaled like the settlement's closes: an intent ``expiry-delivery-<day>-<n>`` (inside the
settlement's reserved ``expiry-`` ids; ``metadata``: the expiry, the contracts, ``received`` or
``given``), its acceptance, one fill per price (``liquidity`` ``delivery``) and a FILLED result.
A delivery is no trade: no brokerage, STT (the contract's settlement paid the delivery's), exchange
charge or SEBI fee, and it is not matched against the day's CNC trades (``cnc_day``). It pays
(rates of the expiry day, equity delivery's row, ``configs/charges.yaml``):

- on received shares, stamp duty at ``stamp_buy_pct`` (0.015 %, FACTS section 7) of their value;
- on given shares, the DP charge ``dp_charge_per_scrip`` (Rs 13.5, UNCONFIRMED: FACTS section 7
  quotes it from Zerodha's history, no 2026 figure) plus GST, once per stock for the account
  (Zerodha charges it per scrip a day), shared out pro rata among the given fills.

A delivery fill is not a price of the stock (no tick made it): it neither ends a carried mark nor
becomes the journal's mark (``state_fold``, ``last_day.journal_marks``); the stock's own last tick
is journaled with the line's closes (``day_closes``, ``session_closes``) for the marks carried.

Restarts: the plan is a function of what the journal holds: the positions as the line began (its
settlements counted back in) and each strategy's holdings before its deliveries (this line's
delivery fills counted back out), at the prices the settlements used. So a restart after a kill
anywhere in the line plans the same moves; a delivery order already filled is not placed again,
one cut short (settled at the start, ``execsvc.interrupted``) is placed again for its fills not
journaled, under an id not journaled yet, with the same charges.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from execsvc.broker_events import DELIVERY_PREFIX
from execsvc.events import Charges, ExecutionResult, OrderIntent
from execsvc.executors.base import accepted
from execsvc.executors.paper.delivery_plan import (
    GIVEN,
    DeliveryOrder,
    Leg,
    StockDelivery,
    delivery_orders,
    plan_delivery,
)
from execsvc.executors.paper.netting import share_out
from execsvc.rounding import round_dp
from execsvc.settlement_costs import charged_parts

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor
    from execsvc.state import ServiceState

log = logging.getLogger("execsvc.paper")

DELIVERY = "delivery"  # the fills' liquidity: shares moved by a settlement, not a trade
_CNC = "CNC"


class Delivery(NamedTuple):
    """One stock's planned delivery at the line, and the expiry whose rates charge it."""

    plan: StockDelivery
    expiry: date


def plan_deliveries(state: ServiceState, legs: Mapping[str, list[tuple[Leg, date]]]) -> dict[str, Delivery]:
    """Each stock's delivery from its settled contracts' legs and the account's holdings of it
    before this line's deliveries (the line's delivery fills counted back out: a restart plans the
    same).

    Args:
        state: the account's state (the day being closed).
        legs: by stock, its contracts' legs (``delivery_plan.contract_legs``) and their expiry.
    """
    prefix = _prefix(state)
    out = {}
    for symbol, dated in sorted(legs.items()):
        holdings = _holdings_before(state, symbol, prefix)
        plan = plan_delivery(symbol, [leg for leg, _ in dated], holdings, _reserved(state, symbol))
        out[symbol] = Delivery(plan, max(expiry for _, expiry in dated))
    return out


def deliver(paper: PaperExecutor, deliveries: Mapping[str, Delivery], now_ns: int) -> list[ExecutionResult]:
    """Journal the CNC orders that move the planned shares (see the module docstring), less what
    this line journaled of them already; warn of each short delivery.

    Returns:
        The FILLED results of the delivery orders placed now.
    """
    state = paper.state
    prefix = _prefix(state)
    done = _delivered(state, prefix)
    results = []
    n = 0
    for symbol, (plan, expiry) in deliveries.items():
        for short in plan.short:
            log.warning("short delivery: %s's %s position in %s gives %d shares of %s the account "
                        "does not hold: booked as given at %g, holdings unchanged (the exchange's "
                        "auction and its penalty are not modelled)", short.strategy, short.leg[2],
                        short.leg[1], short.qty, symbol, short.price)  # fmt: skip
        orders = delivery_orders(plan)
        charges = _charges(paper, symbol, orders, expiry)
        for order, fill_charges in zip(orders, charges, strict=True):
            already = done.get((order.strategy, symbol, order.side), 0)
            left = []
            for (price, qty), charged in zip(order.fills, fill_charges, strict=True):
                if already >= qty:  # journaled before a restart: each fill is whole
                    already -= qty
                    continue
                left.append((price, qty, charged))
            if not left:
                continue
            n += 1
            while f"{prefix}{n}" in state.intent_ids:
                n += 1
            results.append(_book(paper, symbol, order, left, expiry, f"{prefix}{n}", now_ns))
    return results


def _book(
    paper: PaperExecutor,
    symbol: str,
    order: DeliveryOrder,
    fills: list[tuple[float, int, Charges]],
    expiry: date,
    intent_id: str,
    now_ns: int,
) -> ExecutionResult:
    contracts = [leg[1] for leg in order.legs]
    way = "given from" if order.side == GIVEN else "received into"
    qty = sum(q for _, q, _ in fills)
    reason = (f"physical settlement: {qty} shares of {symbol} {way} CNC holdings at the expiry of "
              f"{', '.join(contracts)} on {expiry.isoformat()}")  # fmt: skip
    intent = OrderIntent(
        symbol=symbol,
        strategy_code=order.strategy,
        side=order.side,
        qty=qty,
        order_type="MARKET",
        product=_CNC,
        reason=reason,
        intent_id=intent_id,
        exchange=symbol.partition(":")[0],
        ts_init=now_ns,
        metadata={
            "expiry": expiry.isoformat(),
            "contracts": contracts,
            "delivery": "given" if order.side == GIVEN else "received",
        },
    )
    paper.emit(intent)
    order_id = paper.state.next_order_id()
    paper.emit(accepted(intent, order_id, order.side == GIVEN, now_ns))
    record = paper.state.orders[order_id]
    for price, fill_qty, charged in fills:
        paper.book_fill(record, fill_qty, price, now_ns, DELIVERY, charges=charged)
    log.warning("%s CNC %+d %s: %s", order.strategy, qty if order.side != GIVEN else -qty, symbol, reason)
    return paper.result(record, "FILLED", now_ns, reason)


def _charges(
    paper: PaperExecutor, symbol: str, orders: list[DeliveryOrder], expiry: date
) -> list[list[Charges]]:
    """Each planned fill's charges: stamp duty on received shares, a share of the stock's one DP
    charge (+ GST) on given shares; nothing with charges off."""
    rates = paper.costs.rates(symbol.partition(":")[0], "EQ", _CNC, expiry)
    if rates is None:
        return [[Charges() for _ in order.fills] for order in orders]
    given = [qty for order in orders if order.side == GIVEN for _, qty in order.fills]
    dp = rates.dp_charge_per_scrip
    dp_shares: list[Charges] = []
    if given and dp:
        gst = round_dp(dp * rates.gst_pct / 100, 4)
        dp_shares = share_out(Charges(dp=dp, gst=gst, total=round_dp(dp + gst, 4)), given)
    out = []
    for order in orders:
        mine = []
        for price, qty in order.fills:
            if order.side == GIVEN:
                mine.append(charged_parts(dp_shares.pop(0)) if dp_shares else Charges())
            else:
                stamp = round_dp(price * qty * rates.stamp_buy_pct / 100, 4) + 0.0
                mine.append(charged_parts(Charges(stamp=stamp, total=stamp)))
        out.append(mine)
    return out


def _prefix(state: ServiceState) -> str:
    """The ids of this line's delivery intents (the day being closed)."""
    return f"{DELIVERY_PREFIX}{state.day.replace('-', '')}-"


def _holdings_before(state: ServiceState, symbol: str, prefix: str) -> dict[str, int]:
    """Each strategy's CNC quantity of ``symbol`` before this line's deliveries."""
    held: dict[str, int] = {}
    for position in state.positions.values():
        if position.symbol == symbol and position.product == _CNC and position.net_qty:
            held[position.strategy_code] = held.get(position.strategy_code, 0) + position.net_qty
    for (strategy, stock, side), qty in _delivered(state, prefix).items():
        if stock == symbol:
            held[strategy] = held.get(strategy, 0) + (qty if side == GIVEN else -qty)
    return held


def _reserved(state: ServiceState, symbol: str) -> int:
    """What the working CNC sells of ``symbol`` hold back of its holdings (``holdings``): after the
    day's end only after-market orders waiting for the open are left."""
    return sum(
        record.remaining
        for record in state.working_orders()
        if record.order.symbol == symbol and record.order.product == _CNC and record.order.side == GIVEN
    )


def _delivered(state: ServiceState, prefix: str) -> dict[tuple[str, str, str], int]:
    """What this line's delivery orders filled, by (strategy, stock, side)."""
    done: dict[tuple[str, str, str], int] = {}
    for record in state.orders.values():
        order = record.order
        if record.filled_qty and order.intent_id.startswith(prefix):
            key = (order.strategy_code, order.symbol, order.side)
            done[key] = done.get(key, 0) + record.filled_qty
    return done
