"""The plan of a stock's physical delivery at expiry: pure, on the account's net (``delivery_plan``)."""

from __future__ import annotations

import pytest

from execsvc.events import Charges
from execsvc.executors.paper.delivery_plan import (
    DeliveryOrder,
    Leg,
    Move,
    contract_legs,
    delivery_note,
    delivery_orders,
    plan_delivery,
)
from execsvc.executors.paper.netting import apportion, share_out

STOCK, FUT, PUT = "NSE:INFY", "NFO:INFY26DECFUT", "NFO:INFY26DEC1600PE"


def test_a_contract_delivers_its_account_net_shared_among_the_positions_on_that_side():
    # a long 600 and b long 200 cross with c short 400: the account is net long 400
    legs = contract_legs({("a", "NRML"): 600, ("b", "NRML"): 200, ("c", "NRML"): -400}, FUT, 1, 1562.0)

    assert legs == [Leg(("a", FUT, "NRML"), 300, 1562.0), Leg(("b", FUT, "NRML"), 100, 1562.0)]


def test_a_long_put_gives_shares_and_a_flat_contract_has_no_legs():
    assert contract_legs({("a", "NRML"): 400}, PUT, -1, 1560.0) == [Leg(("a", PUT, "NRML"), -400, 1560.0)]
    assert contract_legs({("a", "NRML"): 400, ("b", "NRML"): -400}, FUT, 1, 1562.0) == []


def test_received_shares_go_to_the_legs_on_the_stocks_net_side_at_their_own_price():
    legs = [
        Leg(("a", FUT, "NRML"), 800, 1562.0),
        Leg(("b", PUT, "NRML"), -400, 1560.0),  # crosses half of a's within the account
    ]

    plan = plan_delivery(STOCK, legs, holdings={"b": 1_000})

    assert (plan.net, plan.received, plan.given, plan.short) == (
        400, (Move("a", 400, 1562.0, ("a", FUT, "NRML")),), (), (),
    )  # fmt: skip


def test_given_shares_come_from_the_givers_own_holding_first_then_the_others_and_the_rest_is_short():
    legs = [Leg(("a", FUT, "NRML"), -400, 1562.0), Leg(("b", FUT, "NRML"), -400, 1562.0)]

    plan = plan_delivery(STOCK, legs, holdings={"a": 100, "c": 450, "b": 0})

    assert plan.given == (
        Move("a", 100, 1562.0, ("a", FUT, "NRML")),  # a's own
        Move("c", 300, 1562.0, ("a", FUT, "NRML")),  # then the account's other holdings, by code
        Move("c", 150, 1562.0, ("b", FUT, "NRML")),
    )
    assert plan.short == (Move("b", 250, 1562.0, ("b", FUT, "NRML")),)
    assert delivery_orders(plan) == [
        DeliveryOrder("a", "SELL", ((1562.0, 100),), (("a", FUT, "NRML"),)),
        DeliveryOrder("c", "SELL", ((1562.0, 450),), (("a", FUT, "NRML"), ("b", FUT, "NRML"))),
    ]


def test_legs_netting_to_zero_move_nothing():
    legs = [Leg(("a", FUT, "NRML"), 400, 1562.0), Leg(("b", PUT, "NRML"), -400, 1560.0)]

    plan = plan_delivery(STOCK, legs, holdings={})

    assert (plan.net, plan.received, plan.given, plan.short, delivery_orders(plan)) == (0, (), (), (), [])
    assert delivery_note(plan, ("a", FUT, "NRML")) == (
        "; physically settled, charged as a delivery: no shares of NSE:INFY move: the account's other "
        "positions in it net them out"
    )


@pytest.mark.parametrize(
    ("holdings", "note"),
    [
        ({}, "short delivery of 400 shares of NSE:INFY not held, booked as given at 1562, holdings "
             "unchanged: auction not modelled"),
        ({"a": 150}, "150 shares of NSE:INFY given from CNC holdings at 1562; short delivery of 250 "
                     "shares of NSE:INFY not held, booked as given at 1562, holdings unchanged: "
                     "auction not modelled"),
        ({"a": 400}, "400 shares of NSE:INFY given from CNC holdings at 1562"),
    ],
)  # fmt: skip
def test_the_note_says_where_a_legs_shares_went(holdings, note):
    leg = Leg(("a", FUT, "NRML"), -400, 1562.0)

    assert delivery_note(plan_delivery(STOCK, [leg], holdings), leg.key) == (
        f"; physically settled, charged as a delivery: {note}"
    )


def test_apportion_splits_whole_units_by_the_largest_remainder():
    assert apportion(1, [1, 1]) == [1, 0]
    assert apportion(400, [600, 200]) == [300, 100]
    assert sum(apportion(7, [3, 3, 3])) == 7


def test_a_dp_charge_is_shared_out_exactly_and_named_only_where_charged():
    whole = Charges(dp=13.5, gst=2.43, total=15.93)

    shares = share_out(whole, [500, 200])

    assert [s.dp for s in shares] == [9.6429, 3.8571]
    assert round(sum(s.total for s in shares), 4) == 15.93
    assert share_out(Charges(brokerage=1.0, total=1.0), [1, 1])[1] == Charges(brokerage=0.5, total=0.5)


def test_given_shares_never_exceed_what_the_account_holds_across_strategies():
    # b sold 300 of c's 450 CNC (holdings are the account's): b's book is -300, the account holds 150
    legs = [Leg(("a", FUT, "NRML"), -400, 1562.0)]

    plan = plan_delivery(STOCK, legs, holdings={"b": -300, "c": 450})

    assert plan.given == (Move("c", 150, 1562.0, ("a", FUT, "NRML")),)
    assert plan.short == (Move("a", 250, 1562.0, ("a", FUT, "NRML")),)


def test_given_shares_leave_alone_what_a_working_cnc_sell_holds_back():
    legs = [Leg(("a", FUT, "NRML"), -400, 1562.0)]

    plan = plan_delivery(STOCK, legs, holdings={"a": 500}, reserved=300)

    assert plan.given == (Move("a", 200, 1562.0, ("a", FUT, "NRML")),)
    assert plan.short == (Move("a", 200, 1562.0, ("a", FUT, "NRML")),)
