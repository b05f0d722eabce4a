"""The pure Kite mappings: tags, request forms, parsing of every official mock, statuses, checksums,
and the error mapping of FACTS.md 1.4."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
import pytest

from execsvc.errors import (
    BrokerAuthError,
    BrokerDataError,
    BrokerRateLimitError,
    BrokerRejectError,
    BrokerUnavailableError,
    ValidationError,
)
from execsvc.events import OrderIntent
from execsvc.executors.kite import (
    KITE_STATUSES,
    TAG_PREFIX,
    KiteOrder,
    is_terminal,
    map_kite_error,
    modify_params,
    order_params,
    parse_order,
    parse_orders,
    parse_positions,
    parse_trade,
    parse_trades,
    postback_checksum,
    result_status,
    session_checksum,
    tag_for,
    verify_postback,
)
from execsvc.executors.kite.mapping import broker_terms, form_body

MOCKS = Path(__file__).resolve().parents[1] / "kite_mocks"
# FACTS.md 1.3, captured from kiteconnect 5.2.2 on the wire.
CAPTURED_LIMIT = (
    "variety=regular&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=1&product=MIS"
    "&order_type=LIMIT&price=1500.5&validity=DAY&tag=t1&market_protection=-1"
)
CAPTURED_MODIFY = "variety=regular&order_id=151220000000000&quantity=2&price=1501"


def mock(name: str) -> Any:
    return json.loads((MOCKS / name).read_text())


def intent(**changes: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "symbol": "NSE:INFY",
        "strategy_code": "s1",
        "side": "BUY",
        "qty": 1,
        "order_type": "LIMIT",
        "price": 1500.5,
        "intent_id": "i-1",
    }
    fields.update(changes)
    return OrderIntent(**fields)


# -- tags ---------------------------------------------------------------------------------------


def test_tag_is_alphanumeric_20_chars_and_prefixed() -> None:
    for intent_id in ("", "a", "i-1", "ü" * 300, "x" * 10_000):
        tag = tag_for(intent_id)
        assert re.fullmatch(r"[a-z0-9]{20}", tag)
        assert tag.startswith(TAG_PREFIX)


def test_tag_is_stable_across_processes() -> None:
    # A literal, so that hash randomisation or a changed algorithm would show here.
    assert tag_for("abc") == "exxj4bnp4pahh6uqkbid"
    digest = base64.b32encode(hashlib.sha256(b"i-1").digest()).decode().lower()
    assert tag_for("i-1") == "ex" + digest[:18]


def test_tags_do_not_collide() -> None:
    tags = {tag_for(f"intent-{n}") for n in range(20_000)}
    assert len(tags) == 20_000


# -- order forms --------------------------------------------------------------------------------


def test_limit_form_matches_the_captured_kiteconnect_body() -> None:
    variety, fields = order_params(intent(), "t1", market_protection=-1.0)
    # market_protection is only sent for MARKET and SL-M; everything else, in order, is identical.
    expected = [(k, v) for k, v in parse_qsl(CAPTURED_LIMIT) if k != "market_protection"]
    assert variety == "regular"
    assert list(fields.items()) == expected
    assert urlencode(fields) == CAPTURED_LIMIT.removesuffix("&market_protection=-1")
    assert form_body(fields) == CAPTURED_LIMIT.removesuffix("&market_protection=-1").encode()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"order_type": "MARKET", "price": None},
            "variety=regular&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=1&product=MIS"
            "&order_type=MARKET&validity=DAY&tag=t1&market_protection=-1",
        ),
        (
            {"order_type": "SL", "price": 101.5, "trigger_price": 101.0, "side": "SELL", "qty": 5},
            "variety=regular&exchange=NSE&tradingsymbol=INFY&transaction_type=SELL&quantity=5&product=MIS"
            "&order_type=SL&price=101.5&validity=DAY&trigger_price=101&tag=t1",
        ),
        (
            {"order_type": "SL-M", "price": None, "trigger_price": 99.95, "product": "CNC"},
            "variety=regular&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=1&product=CNC"
            "&order_type=SL-M&validity=DAY&trigger_price=99.95&tag=t1&market_protection=-1",
        ),
        (
            {"variety": "amo", "validity": "IOC", "symbol": "SBIN", "exchange": "BSE"},
            "variety=amo&exchange=BSE&tradingsymbol=SBIN&transaction_type=BUY&quantity=1&product=MIS"
            "&order_type=LIMIT&price=1500.5&validity=IOC&tag=t1",
        ),
        (
            {"variety": "iceberg", "qty": 1000, "metadata": {"iceberg_legs": 5}},
            "variety=iceberg&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=1000&product=MIS"
            "&order_type=LIMIT&price=1500.5&validity=DAY&iceberg_legs=5&iceberg_quantity=200&tag=t1",
        ),
        (
            {"variety": "iceberg", "qty": 10, "metadata": {"iceberg_legs": 3}},
            "variety=iceberg&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=10&product=MIS"
            "&order_type=LIMIT&price=1500.5&validity=DAY&iceberg_legs=3&iceberg_quantity=4&tag=t1",
        ),
        (
            {"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": 2, "iceberg_quantity": 60}},
            "variety=iceberg&exchange=NSE&tradingsymbol=INFY&transaction_type=BUY&quantity=100&product=MIS"
            "&order_type=LIMIT&price=1500.5&validity=DAY&iceberg_legs=2&iceberg_quantity=60&tag=t1",
        ),
    ],
    ids=["market", "sl", "sl-m", "amo", "iceberg", "iceberg-rounded-up", "iceberg-explicit"],
)
def test_order_forms(changes: dict[str, Any], expected: str) -> None:
    variety, fields = order_params(intent(**changes), "t1", market_protection=-1.0)
    assert variety == fields["variety"]
    assert urlencode(fields) == expected


def test_custom_market_protection_is_sent_as_given() -> None:
    _, fields = order_params(intent(order_type="MARKET", price=None), "t1", market_protection=2.5)
    assert fields["market_protection"] == "2.5"


@pytest.mark.parametrize(
    ("changes", "protection", "named"),
    [
        ({"variety": "co"}, -1.0, "variety='co'"),
        ({"order_type": "STOP"}, -1.0, "order_type='STOP'"),
        ({"price": None}, -1.0, "price=None"),
        ({"order_type": "SL", "trigger_price": None}, -1.0, "trigger_price=None"),
        ({"order_type": "MARKET", "price": None}, 0.0, "market_protection=0.0"),
        ({"order_type": "SL-M", "price": None, "trigger_price": 1.0}, 101.0, "market_protection=101.0"),
        ({"price": float("nan")}, -1.0, "price=nan"),
        ({"symbol": "INFY"}, -1.0, "symbol='INFY'"),
        ({"variety": "iceberg", "qty": 100}, -1.0, "metadata.iceberg_legs=None"),
        (
            {"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": 1}},
            -1.0,
            "metadata.iceberg_legs=1",
        ),
        ({"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": 51}}, -1.0, "iceberg_legs=51"),
        ({"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": "5"}}, -1.0, "iceberg_legs='5'"),
        ({"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": True}}, -1.0, "iceberg_legs=True"),
        (
            {"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": 2, "iceberg_quantity": 40}},
            -1.0,
            "metadata.iceberg_quantity=40",
        ),
        (
            {"variety": "iceberg", "qty": 100, "metadata": {"iceberg_legs": 2, "iceberg_quantity": 101}},
            -1.0,
            "metadata.iceberg_quantity=101",
        ),
    ],
)
def test_bad_orders_raise_naming_field_and_value(
    changes: dict[str, Any], protection: float, named: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(named)):
        order_params(intent(**changes), "t1", market_protection=protection)


def test_modify_form_matches_the_captured_kiteconnect_body() -> None:
    fields = modify_params("regular", "151220000000000", quantity=2, price=1501.0)
    assert urlencode(fields) == CAPTURED_MODIFY


def test_modify_form_with_every_field_in_kiteconnect_order() -> None:
    fields = modify_params(
        "regular",
        "1",
        parent_order_id="0",
        quantity=3,
        price=10.05,
        order_type="SL",
        trigger_price=10,
        validity="DAY",
        disclosed_quantity=1,
        market_protection=-1,
    )
    assert list(fields) == [
        "variety",
        "order_id",
        "parent_order_id",
        "quantity",
        "price",
        "order_type",
        "trigger_price",
        "validity",
        "disclosed_quantity",
        "market_protection",
    ]
    assert fields["price"] == "10.05"
    assert fields["trigger_price"] == "10"
    with pytest.raises(ValidationError, match="market_protection=0"):
        modify_params("regular", "1", market_protection=0)


# -- parsing every mock -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orders.json", "order_info.json"])
def test_every_order_mock_parses(name: str) -> None:
    raw = mock(name)["data"]
    orders = parse_orders(raw)
    assert len(orders) == len(raw)
    for order, row in zip(orders, raw, strict=True):
        assert order.order_id == row["order_id"]
        assert order.status == row["status"]
        # an iceberg's quantity is its current leg's: parsed as the whole order (``whole_iceberg``)
        total = row["meta"]["iceberg"]["total_quantity"] if row["variety"] == "iceberg" else row["quantity"]
        assert order.quantity == total
        assert order.filled_quantity == row["filled_quantity"]
        assert order.price == float(row["price"])
        assert order.tag == row["tag"]
        assert order.tags == tuple(row.get("tags", ()))
        assert order.exchange_order_id == row["exchange_order_id"]


def test_order_mock_details() -> None:
    orders = {o.order_id: o for o in parse_orders(mock("orders.json")["data"])}
    iceberg = orders["220524001859672"]
    assert iceberg.variety == "iceberg"
    assert isinstance(iceberg.meta, dict) and iceberg.meta["iceberg"]["legs"] == 5
    assert (iceberg.quantity, iceberg.filled_quantity, iceberg.status) == (1000, 0, "REJECTED")
    assert iceberg.status_message_raw and iceberg.status_message_raw.startswith("RMS:Margin Exceeds")
    snowflake = orders["1953341975595868160"]
    assert snowflake.tags == ("mktp", "mktp:2.00")
    assert snowflake.account_id is not None
    history = parse_orders(mock("order_info.json")["data"])
    assert [o.status for o in history][-3:] == ["MODIFY PENDING", "MODIFIED", "OPEN"]
    assert history[0].meta is None and history[0].exchange_update_timestamp is None


def test_postback_mock_parses() -> None:
    order = parse_order(mock("postback.json"))
    assert order.order_id == "220303000308932"
    assert (order.status, order.filled_quantity, order.average_price) == ("COMPLETE", 1, 470.0)
    assert order.unfilled_quantity == 0 and order.guid == "XXXXXX" and order.app_id == 1234
    assert order.tag is None and order.parent_order_id is None


@pytest.mark.parametrize("name", ["trades.json", "order_trades.json"])
def test_every_trade_mock_parses(name: str) -> None:
    raw = mock(name)["data"]
    trades = parse_trades(raw)
    assert len(trades) == len(raw)
    for trade, row in zip(trades, raw, strict=True):
        assert (trade.trade_id, trade.order_id) == (row["trade_id"], row["order_id"])
        assert trade.quantity == row["quantity"]
        assert trade.average_price == float(row["average_price"])
        assert trade.fill_timestamp == row["fill_timestamp"]
        assert trade.order_timestamp == row["order_timestamp"]


def test_trade_with_an_older_filled_field() -> None:
    trade = parse_trade({"trade_id": "1", "order_id": "2", "filled": 3, "average_price": 10})
    assert trade.quantity == 3 and trade.average_price == 10.0


def test_positions_mock_parses() -> None:
    raw = mock("positions.json")["data"]
    positions = parse_positions(raw)
    assert [len(positions["net"]), len(positions["day"])] == [len(raw["net"]), len(raw["day"])]
    gold = positions["day"][0]
    assert (gold.tradingsymbol, gold.exchange, gold.product, gold.quantity) == (
        "GOLDGUINEA17DECFUT",
        "MCX",
        "NRML",
        -3,
    )
    assert positions["day"][1].multiplier == 1000.0
    assert parse_positions({"net": []}) == {"net": [], "day": []}


OPEN = {"order_id": "1", "status": "OPEN", "filled_quantity": 0}


def test_orders_are_tolerant_of_ints_nulls_unknown_and_missing_fields() -> None:
    order = parse_order(
        {
            "order_id": "1",
            "status": "OPEN",
            "filled_quantity": 0,
            "price": 72,
            "average_price": None,
            "quantity": None,
            "meta": "",
            "brand_new_field": {"x": 1},
        }
    )
    assert order == KiteOrder(order_id="1", status="OPEN", filled_quantity=0, price=72.0, meta="")
    assert isinstance(order.price, float)
    assert (
        parse_order({"order_id": "1", "status": "OPEN", "quantity": "5", "filled_quantity": 0}).quantity == 5
    )
    with pytest.raises(AttributeError):
        order.status = "COMPLETE"  # type: ignore[misc]
    assert msgspec.structs.asdict(order)["tags"] == ()


@pytest.mark.parametrize(
    ("parse", "data", "named"),
    [
        (parse_order, {**OPEN, "quantity": "abc"}, "quantity='abc'"),
        (parse_order, {**OPEN, "price": "x"}, "price='x'"),
        (parse_order, {"order_id": 1, "status": "OPEN"}, "order_id=1"),
        (parse_order, {"status": "OPEN"}, "order_id is missing"),
        (parse_order, {**OPEN, "tags": "a"}, "tags='a'"),
        (parse_order, {"order_id": "1", "status": "CANCELLED"}, "filled_quantity is missing"),
        (
            parse_order,
            {"order_id": "1", "status": "CANCELLED", "filled_quantity": None},
            "filled_quantity is missing",
        ),
        (parse_order, ["not", "an", "object"], "expected an object"),
        (parse_orders, {"order_id": "1"}, "expected a list"),
        (
            parse_orders,
            [OPEN, {"order_id": "2"}],
            "orders[1]: status is missing",
        ),
        (parse_orders, [{"order_id": "1", "status": "OPEN", "filled_quantity": 1.5}], "filled_quantity=1.5"),
        (
            parse_trades,
            [{"trade_id": "1", "order_id": "2", "average_price": 1}],
            "trades[0]: quantity is missing",
        ),
        (
            parse_trades,
            [{"trade_id": "1", "order_id": "2", "quantity": "q", "average_price": 1}],
            "quantity='q'",
        ),
        (parse_positions, {"net": "x"}, "positions.net: expected a list"),
        (parse_positions, {"day": [{"tradingsymbol": "A", "exchange": "NSE", "product": "MIS"}]}, "quantity"),
    ],
)
def test_bad_shapes_raise_broker_data_error_naming_field_and_value(parse: Any, data: Any, named: str) -> None:
    with pytest.raises(BrokerDataError, match=re.escape(named)):
        parse(data)


# -- statuses -----------------------------------------------------------------------------------

TERMINAL = {"COMPLETE": "FILLED", "REJECTED": "REJECTED", "CANCELLED": "CANCELLED"}


@pytest.mark.parametrize("status", [*KITE_STATUSES, "SOMETHING NEW", ""])
@pytest.mark.parametrize(("filled", "quantity"), [(0, 10), (4, 10), (10, 10)])
def test_result_status_for_every_kite_status(status: str, filled: int, quantity: int) -> None:
    expected = TERMINAL.get(status) or ("PARTIAL" if 0 < filled < quantity else "PLACED")
    if status == "REJECTED" and filled:  # the rest refused after fills: not "nothing was done"
        expected = "PARTIAL"
    assert result_status(status, filled, quantity) == expected
    assert is_terminal(status) is (status in TERMINAL)


def test_result_status_table() -> None:
    assert result_status("COMPLETE", 10, 10) == "FILLED"
    assert result_status("CANCELLED", 4, 10) == "CANCELLED"
    assert result_status("REJECTED", 0, 10) == "REJECTED"
    assert result_status("REJECTED", 4, 10) == "PARTIAL"
    assert result_status("OPEN", 4, 10) == "PARTIAL"
    assert result_status("UPDATE", 4, 10) == "PARTIAL"
    assert result_status("TRIGGER PENDING", 0, 10) == "PLACED"
    assert result_status("AMO REQ RECEIVED", 0, 10) == "PLACED"
    assert result_status("NOT MODIFIED", 0, 10) == "PLACED"
    assert result_status("complete", 1, 1) == "FILLED"
    assert set(TERMINAL) <= set(KITE_STATUSES)


# -- checksums ----------------------------------------------------------------------------------


def test_checksums_match_the_facts_test_vectors() -> None:
    assert (
        session_checksum("test_api_key", "test_request_token", "test_api_secret")
        == "db7982386217016217ea3d380e90d51dc63978441969b4f101ec3302f80bd06d"
    )
    assert (
        postback_checksum("220303000308932", "2022-03-03 09:24:25", "test_api_secret")
        == "921a4c1420e9e07eaa8152e0964693f0656a0c5ce049f187ac3cc475d622aa36"
    )


def test_verify_postback() -> None:
    payload = mock("postback.json")
    assert not verify_postback(payload, "test_api_secret")  # signed with Zerodha's unknown secret
    signed = {**payload, "checksum": "921a4c1420e9e07eaa8152e0964693f0656a0c5ce049f187ac3cc475d622aa36"}
    assert verify_postback(signed, "test_api_secret")
    assert verify_postback({**signed, "checksum": signed["checksum"].upper()}, "test_api_secret")
    assert not verify_postback(signed, "other_secret")
    assert not verify_postback({**signed, "order_timestamp": "2022-03-03 09:24:26"}, "test_api_secret")
    assert not verify_postback({**signed, "checksum": "é" * 64}, "test_api_secret")
    for missing in ("order_id", "order_timestamp", "checksum"):
        assert not verify_postback({k: v for k, v in signed.items() if k != missing}, "test_api_secret")
    assert not verify_postback({**signed, "order_id": 220303000308932}, "test_api_secret")


# -- error mapping (FACTS.md 1.4) ---------------------------------------------------------------


def envelope(error_type: str | None, message: str = "boom") -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message}
    if error_type is not None:
        body["error_type"] = error_type
    return body


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (403, "TokenException", BrokerAuthError),
        (429, "NetworkException", BrokerRateLimitError),
        (429, None, BrokerRateLimitError),
        (500, "GeneralException", BrokerUnavailableError),
        (502, "DataException", BrokerUnavailableError),
        (503, "NetworkException", BrokerUnavailableError),
        (504, None, BrokerUnavailableError),
        (503, "InputException", BrokerUnavailableError),
        (400, "NetworkException", BrokerUnavailableError),
        (400, "DataException", BrokerUnavailableError),
        (400, "InputException", BrokerRejectError),
        (400, "OrderException", BrokerRejectError),
        (400, "MarginException", BrokerRejectError),
        (400, "HoldingException", BrokerRejectError),
        (403, "UserException", BrokerRejectError),
        (403, "PermissionException", BrokerRejectError),
        (403, None, BrokerRejectError),
        (404, "GeneralException", BrokerRejectError),
        (405, None, BrokerRejectError),
        (410, None, BrokerRejectError),
        (428, "OrderException", BrokerRejectError),
        (400, "SomethingNewException", BrokerRejectError),
        (200, "OrderException", BrokerRejectError),
    ],
)
def test_map_kite_error(status: int, error_type: str | None, expected: type[Exception]) -> None:
    error = map_kite_error(status, envelope(error_type), method="POST", path="/orders/regular")
    assert type(error) is expected
    assert error.http_status == status
    assert error.error_type == error_type
    if isinstance(error, BrokerUnavailableError):
        assert error.maybe_sent is True


def test_map_kite_error_message() -> None:
    error = map_kite_error(
        400, envelope("InputException", "Invalid `price`."), method="POST", path="/orders/regular"
    )
    assert str(error) == "Kite POST /orders/regular: HTTP 400 InputException: Invalid `price`."
    bare = map_kite_error(502, None, method="GET", path="/orders")
    assert str(bare) == "Kite GET /orders: HTTP 502"
    assert bare.error_type is None and bare.http_status == 502
    long = map_kite_error(400, envelope("InputException", "x" * 1000), method="GET", path="/orders")
    assert len(str(long)) < 400


# -- broker_terms: a modification the broker took, whose journal record was lost -------------------


def _ours(order_type: str, qty: int = 5, price: float | None = None, trigger: float | None = None) -> Any:
    from execsvc.events import OrderAccepted

    return OrderAccepted(
        order_id="exabc", intent_id="i1", strategy_code="s", symbol="NSE:INFY", side="BUY", qty=qty,
        order_type=order_type, product="MIS", validity="DAY", price=price, trigger_price=trigger,
    )  # fmt: skip


def _theirs(order_type: str, qty: int = 5, price: float = 0.0, trigger: float = 0.0) -> KiteOrder:
    return KiteOrder(
        order_id="1", status="OPEN", order_type=order_type, quantity=qty, price=price, trigger_price=trigger,
        filled_quantity=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (_ours("LIMIT", price=1500.0), _theirs("LIMIT", price=1500.0)),
        # Kite reports 0 for what an order type does not use
        (_ours("SL-M", trigger=1510.0), _theirs("SL-M", trigger=1510.0)),
        (_ours("SL", price=1511.0, trigger=1510.0), _theirs("SL", price=1511.0, trigger=1510.0)),
        # our MARKET order is shown as the LIMIT its market protection made of it
        (_ours("MARKET"), _theirs("LIMIT", price=1507.5)),
        (_ours("MARKET", price=1500.0), _theirs("MARKET")),
    ],
)
def test_broker_terms_that_agree_with_ours_change_nothing(ours: Any, theirs: KiteOrder) -> None:
    assert broker_terms(ours, theirs, 7) is None


def test_broker_terms_that_differ_are_journaled_as_a_modification() -> None:
    repriced = broker_terms(_ours("LIMIT", price=1500.0), _theirs("LIMIT", qty=8, price=1495.5), 7)
    assert repriced is not None
    assert (repriced.order_id, repriced.intent_id, repriced.qty, repriced.price, repriced.ts_event) == (
        "exabc", "i1", 8, 1495.5, 7,
    )  # fmt: skip
    to_market = broker_terms(_ours("LIMIT", price=1500.0), _theirs("MARKET"), 7)
    assert to_market is not None
    assert (to_market.order_type, to_market.price, to_market.trigger_price) == ("MARKET", None, None)
    resized = broker_terms(_ours("MARKET"), _theirs("LIMIT", qty=2, price=1507.5), 7)
    assert resized is not None and (resized.qty, resized.order_type, resized.price) == (2, "MARKET", None)


# -- quantity_proven: when the broker's other quantity is the order's own ----------------------------


@pytest.mark.parametrize(
    ("status", "quantity", "filled", "booked", "variety", "proven"),
    [
        ("OPEN", 5, 0, 0, "regular", False),  # may be older than a change we journaled
        ("OPEN", 12, 11, 0, "regular", True),  # fills beyond our 10 prove a larger quantity
        ("OPEN", 12, 3, 0, "regular", False),  # a fill within it: maybe a view older than our cut
        ("OPEN", 5, 5, 0, "regular", False),  # a cut with fills in it: not proven until final
        ("COMPLETE", 5, 5, 5, "regular", True),  # final: a cut made on Kite web, or in flight
        ("COMPLETE", 10, 10, 0, "regular", False),  # the same quantity: nothing to prove
        ("COMPLETE", 2, 2, 0, "iceberg", False),  # one leg's quantity, not the order's
        ("CANCELLED", 5, 3, 3, "regular", False),  # closed with its rest cancelled anyway
    ],
)
def test_quantity_proven(
    status: str, quantity: int, filled: int, booked: int, variety: str, proven: bool
) -> None:
    from execsvc.executors.kite.order_state import quantity_proven
    from execsvc.state import OrderRecord

    record = OrderRecord(msgspec.structs.replace(_ours("LIMIT", qty=10, price=1500.0), variety=variety))
    record.filled_qty = booked
    theirs = KiteOrder(order_id="1", status=status, quantity=quantity, filled_quantity=filled)
    assert quantity_proven(record, theirs) is proven
