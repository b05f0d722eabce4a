"""The simulated broker's holdings rule (execsvc.executors.paper.holdings): a CNC SELL needs stock.

The state is a real ``ServiceState`` folded from the events the service journals (carried
positions, accepted orders, fills, cancels), so the rule is checked on what it meets in service.
"""

from __future__ import annotations

import itertools

import pytest

from execsvc.events import Fill, OrderAccepted, OrderCancelled, OrderIntent, PositionsCarried
from execsvc.executors.paper.holdings import HOLDINGS_REASON, broker_refusal, holdings_refusal
from execsvc.market.ticks import Tick
from execsvc.positions import Position
from execsvc.state import ServiceState

INFY = "NSE:INFY"
_ids = itertools.count(1)


def state_of(*events: object) -> ServiceState:
    state = ServiceState(1_000_000.0)
    for event in events:
        state.apply(event)
    return state


def carried(qty: int, strategy: str = "s1", product: str = "CNC", symbol: str = INFY) -> PositionsCarried:
    position = Position(strategy_code=strategy, symbol=symbol, product=product, net_qty=qty, avg_price=1500.0)
    return PositionsCarried(positions=[position], from_day="2026-11-19")


def accepted(side: str, qty: int, strategy: str = "s1", product: str = "CNC", symbol: str = INFY, **kw):
    n = next(_ids)
    return OrderAccepted(
        order_id=f"o{n}", intent_id=f"i{n}", strategy_code=strategy, symbol=symbol, side=side, qty=qty,
        order_type=kw.pop("order_type", "LIMIT"), product=product, validity="DAY", price=1500.0, **kw,
    )  # fmt: skip


def filled(order: OrderAccepted, qty: int | None = None) -> Fill:
    return Fill(
        fill_id=f"{order.order_id}-f", order_id=order.order_id, intent_id=order.intent_id,
        strategy_code=order.strategy_code, symbol=order.symbol, side=order.side,
        qty=order.qty if qty is None else qty, price=1500.0, product=order.product,
    )  # fmt: skip


def traded(side: str, qty: int, **kw) -> tuple[OrderAccepted, Fill]:
    order = accepted(side, qty, **kw)
    return order, filled(order)


def sell(qty: int, product: str = "CNC", symbol: str = INFY, strategy: str = "s9") -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side="SELL", qty=qty, product=product, order_type="MARKET"
    )


def refusal(state: ServiceState, intent: OrderIntent) -> str | None:
    return holdings_refusal(intent, state.positions.values(), state.working_orders())


def test_a_cnc_sell_with_nothing_held_is_refused_naming_symbol_asked_and_available():
    message = refusal(state_of(), sell(10))
    assert message is not None
    assert message.startswith("NSE:INFY: CNC SELL of 10 exceeds the holdings available, 0 ")
    assert "RMS:Rule: Check holdings" in message


@pytest.mark.parametrize(
    ("events", "qty", "ok"),
    [
        ((carried(10),), 10, True),  # carried from an earlier day
        ((carried(10),), 11, False),
        ((*traded("BUY", 7),), 7, True),  # bought today: a same-day buy then sell is allowed
        ((*traded("BUY", 7),), 8, False),
        ((carried(10), *traded("BUY", 5)), 15, True),  # both
        ((carried(10), *traded("SELL", 4)), 6, True),  # what was sold today is gone
        ((carried(10), *traded("SELL", 4)), 7, False),
    ],
)
def test_holdings_are_the_carried_quantity_plus_todays_cnc_net(events, qty, ok):
    assert (refusal(state_of(*events), sell(qty)) is None) is ok


def test_holdings_are_the_accounts_across_strategies():
    state = state_of(carried(6, strategy="a"), *traded("BUY", 4, strategy="b"))
    assert refusal(state, sell(10, strategy="c")) is None  # a strategy that holds nothing sells the account's
    assert refusal(state, sell(11, strategy="a")) is not None


def test_one_strategys_old_cnc_short_lowers_the_accounts_holdings():
    """A journal from before the rule may carry a CNC short: the account holds the net."""
    state = state_of(carried(10, strategy="a"), carried(-4, strategy="b"))
    assert refusal(state, sell(6)) is None
    assert refusal(state, sell(7)) is not None


def test_a_working_cnc_sell_reserves_its_unfilled_quantity():
    resting = accepted("SELL", 6, strategy="a")
    state = state_of(carried(10), resting)
    assert refusal(state, sell(4)) is None
    message = refusal(state, sell(5))
    assert message is not None and "available, 4 (10 held, 6 reserved by working CNC sells)" in message
    part = state_of(carried(10), resting, filled(resting, 2))  # 2 sold, 4 still reserved: 4 left
    assert refusal(part, sell(4)) is None and refusal(part, sell(5)) is not None
    cancel = OrderCancelled(
        order_id=resting.order_id,
        intent_id=resting.intent_id,
        strategy_code="a",
        symbol=INFY,
        cancelled_qty=6,
    )
    freed = state_of(carried(10), resting, cancel)
    assert refusal(freed, sell(10)) is None  # a cancel gives the stock back


def test_working_stops_and_after_market_sells_reserve_too_and_buys_do_not():
    stop = accepted("SELL", 3, order_type="SL-M", trigger_price=1400.0)
    after = accepted("SELL", 3, variety="amo")
    buy = accepted("BUY", 50)
    state = state_of(carried(10), stop, after, buy)
    assert refusal(state, sell(4)) is None
    assert refusal(state, sell(5)) is not None


def test_an_mis_position_is_no_holdings_and_mis_and_fno_may_go_short():
    state = state_of(*traded("BUY", 10, product="MIS"))
    assert refusal(state, sell(1)) is not None
    assert refusal(state_of(), sell(10, product="MIS")) is None
    assert refusal(state_of(), sell(65, product="NRML", symbol="NFO:NIFTY26DECFUT")) is None
    assert refusal(state_of(), sell(65, product="MIS", symbol="NFO:NIFTY26DECFUT")) is None


def test_a_cnc_working_mis_sell_reserves_nothing():
    state = state_of(carried(10), accepted("SELL", 10, product="MIS"))
    assert refusal(state, sell(10)) is None


def test_holdings_are_per_symbol_here_not_per_isin():
    """At Zerodha NSE:INFY and BSE:INFY are one ISIN, one demat holding; here each symbol holds its own."""
    state = state_of(carried(10))
    assert refusal(state, sell(10, symbol="BSE:INFY")) is not None
    assert refusal(state, sell(10)) is None


def test_an_order_accepted_already_is_weighed_against_the_orders_before_it_only():
    """Dry-run accepts an order before the simulated broker takes it: the order itself and those
    accepted after it reserve nothing for it, as at the broker, which takes orders as they come."""
    first, second = accepted("SELL", 10), accepted("SELL", 10)
    state = state_of(carried(10), first, second)
    positions, working = state.positions.values(), state.working_orders()
    assert holdings_refusal(first, positions, working, before=first.order_id) is None
    assert holdings_refusal(second, positions, working, before=second.order_id) is not None


def test_the_broker_asks_its_rms_before_the_exchange():
    """No tick yet and no holdings: the RMS answers first, as at Zerodha; a covered sale meets the
    exchange's refusals as before."""
    assert broker_refusal(sell(5), None, state_of())[0] == HOLDINGS_REASON  # type: ignore[index]
    assert broker_refusal(sell(5), None, state_of(carried(5)))[0] == "no_market_data"  # type: ignore[index]
    assert broker_refusal(sell(5), Tick(symbol=INFY, last_price=1500.0), state_of(carried(5))) is None
