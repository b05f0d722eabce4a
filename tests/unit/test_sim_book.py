"""Unit tests of the Kite simulator's pure parts: the exchange book, validation, limits, faults."""

from __future__ import annotations

from typing import Any

import pytest

from execsvc.errors import ConfigError
from execsvc.executors.paper.fills import FillModel
from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.ticks import Tick
from execsvc.sim.book import ExchangeBook, Update
from execsvc.sim.config import RateLimits, SimConfig
from execsvc.sim.envelope import ApiError
from execsvc.sim.faults import FaultState, decode_faults
from execsvc.sim.limits import RateLimiter, SimStats
from execsvc.sim.orders import OrderRequest, postback_checksum
from execsvc.sim.params import MARKET_PROTECTION_MESSAGE, parse_place
from tests.conftest import OPEN_NS, SECOND

SYM = "NSE:INFY"
TOKEN = 408065
ORDER_FIELDS = {
    "account_id", "placed_by", "order_id", "exchange_order_id", "parent_order_id", "status",
    "status_message", "status_message_raw", "order_timestamp", "exchange_update_timestamp",
    "exchange_timestamp", "variety", "modified", "exchange", "tradingsymbol", "instrument_token",
    "order_type", "transaction_type", "validity", "product", "quantity", "disclosed_quantity", "price",
    "trigger_price", "average_price", "filled_quantity", "pending_quantity", "cancelled_quantity",
    "market_protection", "meta", "tag", "guid",
}  # fmt: skip


def make_book(**config: Any) -> ExchangeBook:
    """A book over INFY (tick 0.05) with no slippage unless ``fill_model`` says otherwise."""
    config.setdefault("fill_model", FillModel(slippage_bps=0.0))
    instruments = Instruments([Instrument(instrument_token=TOKEN, exchange="NSE", tradingsymbol="INFY")])
    return ExchangeBook(SimConfig(**config), instruments)


def req(side: str = "BUY", order_type: str = "LIMIT", qty: int = 10, **kw: Any) -> OrderRequest:
    return OrderRequest(
        variety=kw.pop("variety", "regular"),
        exchange="NSE",
        tradingsymbol=kw.pop("tradingsymbol", "INFY"),
        transaction_type=side,
        order_type=order_type,
        quantity=qty,
        product=kw.pop("product", "MIS"),
        **kw,
    )


def px(price: float, ts: int = OPEN_NS) -> Tick:
    return Tick(symbol=SYM, last_price=price, ts_event=ts)


def statuses(updates: list[Update]) -> list[str]:
    return [u.status for u in updates]


def history(book: ExchangeBook, order_id: str) -> list[str]:
    return [h["status"] for h in book.orders[order_id].history]


# --- placement and matching ----------------------------------------------------------------------------


def test_marketable_limit_fills_on_arrival_with_full_history() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, updates = book.place(req(price=101.0, tag="s1o1"), "k", OPEN_NS)

    assert statuses(updates) == ["OPEN", "COMPLETE"]
    assert history(book, order.order_id) == [
        "PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE",
    ]  # fmt: skip
    d = order.to_dict()
    assert d.keys() >= ORDER_FIELDS
    assert len(d["order_id"]) == 19 and d["order_id"].isdigit()
    assert (d["filled_quantity"], d["pending_quantity"], d["average_price"]) == (10, 0, 100.0)
    assert (d["tag"], d["tags"], d["instrument_token"]) == ("s1o1", ["s1o1"], TOKEN)
    assert d["order_timestamp"] == "2026-11-20 09:15:00"


def test_resting_limit_fills_at_its_price_when_a_later_tick_crosses() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    _, updates = book.place(req(price=99.0), "k", OPEN_NS)
    assert statuses(updates) == ["OPEN"]

    _, none = book.on_tick(px(99.5), OPEN_NS + SECOND)
    _, filled = book.on_tick(px(98.0), OPEN_NS + 2 * SECOND)

    assert none == []
    assert statuses(filled) == ["COMPLETE"]
    assert book.trades[-1]["average_price"] == 99.0
    assert filled[0].payload["checksum"] == ""


@pytest.mark.parametrize(
    ("side", "protection", "limit", "tags"),
    [("BUY", -1.0, 102.0, ["mktp", "mktp:2.00"]), ("SELL", 5.0, 95.0, ["mktp", "mktp:5.00"])],
)
def test_market_order_becomes_a_limit_at_the_protection_price(
    side: str, protection: float, limit: float, tags: list[str]
) -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, _ = book.place(req(side, "MARKET", market_protection=protection), "k", OPEN_NS)

    d = order.to_dict()
    assert (d["status"], d["order_type"], d["price"], d["tags"]) == ("COMPLETE", "LIMIT", limit, tags)
    assert d["average_price"] == 100.0
    assert d["market_protection"] == int(protection)


def test_no_tick_yet_is_accepted_then_rejected_by_the_exchange() -> None:
    book = make_book()

    order, updates = book.place(req(price=100.0), "k", OPEN_NS)

    assert statuses(updates) == ["REJECTED"]
    d = order.to_dict()
    assert d["status_message"] and "No market data" in d["status_message"]
    assert (d["pending_quantity"], d["filled_quantity"]) == (0, 0)


def test_stop_waits_for_its_trigger_then_fills() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    order, updates = book.place(req("SELL", "SL-M", trigger_price=98.0, market_protection=-1), "k", OPEN_NS)
    assert statuses(updates) == ["TRIGGER PENDING"]

    _, updates = book.on_tick(px(97.5), OPEN_NS + SECOND)

    assert statuses(updates) == ["OPEN", "COMPLETE"]
    assert order.average_price == 97.5
    assert history(book, order.order_id)[-3:] == ["TRIGGER PENDING", "OPEN", "COMPLETE"]


def test_stop_with_a_crossed_trigger_is_rejected() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, updates = book.place(req("BUY", "SL", price=99.0, trigger_price=99.0), "k", OPEN_NS)

    assert statuses(updates) == ["REJECTED"]
    assert "Trigger price" in (order.status_message or "")


def test_ioc_remainder_is_cancelled() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, updates = book.place(req(price=99.0, validity="IOC"), "k", OPEN_NS)

    assert statuses(updates) == ["OPEN", "CANCELLED"]
    assert (order.to_dict()["pending_quantity"], order.cancelled_quantity) == (10, 10)


def test_partial_fill_rests_the_rest_and_each_fill_is_a_trade() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, updates = book.place(req(price=100.0), "k", OPEN_NS, fill_fraction=0.3)
    _, later = book.on_tick(px(100.0), OPEN_NS + SECOND)

    assert statuses(updates) == ["OPEN", "UPDATE"]
    assert updates[1].payload["filled_quantity"] == 3
    assert statuses(later) == ["COMPLETE"]
    trades = book.order_trades(order.order_id)
    assert isinstance(trades, list)
    assert [t["quantity"] for t in trades] == [3, 7]
    assert len({t["trade_id"] for t in trades}) == 2


def test_rms_reject_carries_kite_margin_message() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)

    order, updates = book.place(req(price=100.0), "k", OPEN_NS, reject_with="")

    assert statuses(updates) == ["REJECTED"]
    assert (order.status_message or "").startswith("Insufficient funds. Required margin is 1000.00")
    assert (order.status_message_raw or "").startswith("RMS:Margin Exceeds")
    assert history(book, order.order_id) == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "REJECTED"]


def test_amo_waits_for_the_next_tick() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    order, updates = book.place(req(price=101.0, variety="amo"), "k", OPEN_NS)
    assert (updates, order.status) == ([], "AMO REQ RECEIVED")

    _, updates = book.on_tick(px(100.0), OPEN_NS + SECOND)

    assert statuses(updates) == ["OPEN", "COMPLETE"]


# --- modify and cancel ----------------------------------------------------------------------------------


def test_modify_records_the_modify_states_and_can_make_an_order_marketable() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    order, _ = book.place(req(price=99.0), "k", OPEN_NS)

    updates = book.modify(order.order_id, "regular", {"price": "100.5", "order_id": "x"}, OPEN_NS + SECOND)

    assert not isinstance(updates, ApiError)
    assert statuses(updates) == ["UPDATE", "COMPLETE"]
    assert history(book, order.order_id)[-5:] == [
        "MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED", "OPEN", "COMPLETE",
    ]  # fmt: skip
    assert order.to_dict()["modified"] is True


def test_modifications_are_capped() -> None:
    book = make_book(max_modifications=2)
    book.on_tick(px(100.0), OPEN_NS)
    order, _ = book.place(req(price=90.0), "k", OPEN_NS)
    for price in ("91", "92"):
        assert not isinstance(book.modify(order.order_id, "regular", {"price": price}, OPEN_NS), ApiError)

    third = book.modify(order.order_id, "regular", {"price": "93"}, OPEN_NS)

    assert isinstance(third, ApiError)
    assert (third.status, third.error_type) == (400, "InputException")


def test_cancel_keeps_kite_quantities_and_a_second_cancel_is_refused() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    order, _ = book.place(req(price=90.0), "k", OPEN_NS)

    updates = book.cancel(order.order_id, "regular", OPEN_NS)
    again = book.cancel(order.order_id, "regular", OPEN_NS)

    assert not isinstance(updates, ApiError) and statuses(updates) == ["CANCELLED"]
    d = order.to_dict()
    assert (d["pending_quantity"], d["cancelled_quantity"]) == (10, 10)
    assert history(book, order.order_id)[-2:] == ["CANCEL PENDING", "CANCELLED"]
    assert isinstance(again, ApiError) and again.error_type == "OrderException"
    _, none = book.on_tick(px(80.0), OPEN_NS + SECOND)
    assert none == []


# --- positions -------------------------------------------------------------------------------------------


def test_positions_aggregate_per_symbol_and_product() -> None:
    book = make_book()
    book.on_tick(px(100.0), OPEN_NS)
    book.place(req("BUY", price=100.0, qty=10), "k", OPEN_NS)
    book.on_tick(px(110.0), OPEN_NS + SECOND)
    book.place(req("SELL", price=110.0, qty=4), "k", OPEN_NS + SECOND)
    book.place(req("BUY", price=110.0, qty=1, product="CNC"), "k", OPEN_NS + SECOND)

    net = book.positions_dict()["net"]

    mis = next(p for p in net if p["product"] == "MIS")
    assert (mis["quantity"], mis["average_price"], mis["realised"]) == (6, 100.0, 40.0)
    assert (mis["buy_quantity"], mis["sell_quantity"], mis["value"]) == (10, 4, -560.0)
    assert mis["pnl"] == pytest.approx(-560.0 + 6 * 110.0)
    assert mis["unrealised"] == 60.0
    assert [p["product"] for p in net] == ["MIS", "CNC"]


def test_unknown_symbol_becomes_tradable_once_it_ticks() -> None:
    book = make_book()
    assert book.market.tick_size_of("NSE:NEWCO") is None

    tick, _ = book.on_tick(Tick(symbol="NSE:NEWCO", last_price=50.0), OPEN_NS)

    assert tick.instrument_token & 0xFF == 1 and tick.instrument_token > 0
    assert book.market.tick_size_of("NSE:NEWCO") == 0.05


# --- validation ------------------------------------------------------------------------------------------

BASE = {
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "transaction_type": "BUY",
    "quantity": "1",
    "product": "MIS",
    "order_type": "LIMIT",
    "price": "100",
    "variety": "ignored",
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tradingsymbol": ""}, "`tradingsymbol`"),
        ({"quantity": "abc"}, "`quantity`"),
        ({"quantity": "0"}, "`quantity`"),
        ({"transaction_type": "HOLD"}, "`transaction_type`"),
        ({"price": "100.03"}, "Tick size"),
        ({"order_type": "MARKET"}, MARKET_PROTECTION_MESSAGE),
        ({"order_type": "MARKET", "market_protection": "0"}, MARKET_PROTECTION_MESSAGE),
        ({"order_type": "SL-M", "trigger_price": "99"}, MARKET_PROTECTION_MESSAGE),
        ({"order_type": "MARKET", "market_protection": "True"}, "market_protection"),
        ({"order_type": "SL"}, "`trigger_price`"),
        ({"tradingsymbol": "NOPE"}, "does not exist"),
        ({"tag": "x" * 21}, "`tag`"),
    ],
)
def test_bad_params_are_input_exceptions(changes: dict[str, str], message: str) -> None:
    result = parse_place("regular", {**BASE, **changes}, {"NSE:INFY": 0.05}.get)

    assert isinstance(result, ApiError)
    assert (result.status, result.error_type) == (400, "InputException")
    assert message in result.message


def test_iceberg_needs_two_legs() -> None:
    form = {**BASE, "quantity": "10", "iceberg_legs": "1", "iceberg_quantity": "10"}

    result = parse_place("iceberg", form, {"NSE:INFY": 0.05}.get)

    assert isinstance(result, ApiError) and "iceberg_legs" in result.message


def test_valid_market_order_parses() -> None:
    form = {**BASE, "order_type": "MARKET", "market_protection": "-1", "tag": "t1"}

    result = parse_place("regular", form, {"NSE:INFY": 0.05}.get)

    assert isinstance(result, OrderRequest)
    assert (result.market_protection, result.price, result.tag) == (-1.0, 0.0, "t1")


def test_postback_checksum_matches_the_facts_test_vector() -> None:
    assert postback_checksum("220303000308932", "2022-03-03 09:24:25", "test_api_secret") == (
        "921a4c1420e9e07eaa8152e0964693f0656a0c5ce049f187ac3cc475d622aa36"
    )


# --- rate limits, stats and faults -------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["sliding", "fixed"])
def test_order_limit_per_second(window: str) -> None:
    limiter = RateLimiter(RateLimits(orders_per_second=3, orders_per_minute=None, window=window))  # type: ignore[arg-type]
    t0 = 1_000 * SECOND

    admitted = [limiter.admit("orders", t0 + i) for i in range(5)]
    later = limiter.admit("orders", t0 + SECOND + 10)

    assert admitted == [True, True, True, False, False]
    assert later is True


def test_sliding_window_frees_one_slot_at_a_time() -> None:
    limiter = RateLimiter(RateLimits(quote_per_second=2))
    t0 = 1_000 * SECOND
    assert limiter.admit("quote", t0) and limiter.admit("quote", t0 + SECOND // 2)

    assert limiter.admit("quote", t0 + SECOND - 1) is False
    assert limiter.admit("quote", t0 + SECOND) is True
    assert limiter.admit("quote", t0 + SECOND + 1) is False


def test_daily_cap_counts_placements_only() -> None:
    limiter = RateLimiter(RateLimits(orders_per_second=None, orders_per_minute=None, orders_per_day=2))
    t0 = OPEN_NS

    results = [limiter.admit("orders", t0 + i * SECOND, placement=True) for i in range(3)]

    assert results == [True, True, False]
    assert limiter.admit("orders", t0, placement=False) is True


def test_stats_track_the_busiest_second() -> None:
    stats = SimStats()
    for offset in (0, 100, 200, 1_500, 1_600):
        stats.request("orders", 1_000 * SECOND + offset * 1_000_000)

    assert stats.max_orders_in_1s == 3
    assert stats.to_dict()["requests"]["orders"] == 5


def test_faults_decode_and_are_consumed() -> None:
    spec = decode_faults(
        {
            "http_429": {"count": 1},
            "http_5xx": [{"pattern": "/orders*", "status": 502, "method": "POST", "placed": True}],
            "reject_next": {"count": 1, "message": "nope"},
            "partial_fill": {"fraction": 0.25},
            "latency_ms": [{"pattern": "/quote*", "ms": 20}],
        }
    )
    state = FaultState(spec)

    assert (state.take_429(), state.take_429()) == (True, False)
    assert state.take_5xx("GET", "/orders") is None
    rule = state.take_5xx("POST", "/orders/regular")
    assert rule is not None and (rule.kite_error_type, rule.placed) == ("DataException", True)
    assert state.take_5xx("POST", "/orders/regular") is None
    assert (state.take_reject(), state.take_reject()) == ("nope", None)
    assert state.take_partial() == 0.25
    assert (state.latency_s("GET", "/quote/ltp"), state.latency_s("GET", "/orders")) == (0.02, 0.0)


@pytest.mark.parametrize(
    "bad", [{"nope": 1}, {"http_5xx": [{"status": 418}]}, {"partial_fill": {"fraction": 2}}]
)
def test_bad_fault_specs_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        decode_faults(bad)
