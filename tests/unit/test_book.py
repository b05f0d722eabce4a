"""Unit tests of the paper executor's resting book (execsvc.executors.paper.book.RestingBook)."""

from __future__ import annotations

import pytest

from execsvc.executors.paper.book import RestingBook

SYM = "NSE:INFY"


def _book(*orders: tuple[str, str, float]) -> RestingBook:
    """Limits as (order_id, side, price), added in order."""
    book = RestingBook()
    for order_id, side, price in orders:
        book.add_limit(SYM, side, price, order_id)
    return book


# --- price priority ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ask", "popped"),
    [(102.0, []), (101.0, ["b"]), (100.0, ["b", "a"]), (99.0, ["b", "a", "c"]), (1.0, ["b", "a", "c"])],
)
def test_buy_limits_pop_highest_first(ask: float, popped: list[str]) -> None:
    book = _book(("a", "BUY", 100.0), ("b", "BUY", 101.0), ("c", "BUY", 99.0))

    assert book.buy_limits_at_or_above(SYM, ask) == popped


@pytest.mark.parametrize(
    ("bid", "popped"),
    [(99.0, []), (100.0, ["b"]), (101.0, ["b", "a"]), (102.0, ["b", "a", "c"])],
)
def test_sell_limits_pop_lowest_first(bid: float, popped: list[str]) -> None:
    book = _book(("a", "SELL", 101.0), ("b", "SELL", 100.0), ("c", "SELL", 102.0))

    assert book.sell_limits_at_or_below(SYM, bid) == popped


def test_unpopped_orders_stay_for_the_next_price() -> None:
    book = _book(("a", "BUY", 100.0), ("b", "BUY", 101.0), ("c", "BUY", 99.0))

    first = book.buy_limits_at_or_above(SYM, 100.0)
    second = book.buy_limits_at_or_above(SYM, 100.0)
    third = book.buy_limits_at_or_above(SYM, 98.0)

    assert (first, second, third) == (["b", "a"], [], ["c"])


def test_float_noise_counts_as_reached() -> None:
    book = _book(("a", "BUY", 0.3), ("b", "SELL", 0.3))

    assert book.buy_limits_at_or_above(SYM, 0.1 + 0.2) == ["a"]
    assert book.sell_limits_at_or_below(SYM, 0.1 + 0.2) == ["b"]


# --- time priority ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_equal_prices_keep_time_priority(side: str) -> None:
    book = _book(("z", side, 100.0), ("a", side, 100.0), ("m", side, 100.0))

    popped = (
        book.buy_limits_at_or_above(SYM, 100.0) if side == "BUY" else book.sell_limits_at_or_below(SYM, 100.0)
    )

    assert popped == ["z", "a", "m"]


def test_price_beats_time() -> None:
    book = _book(("early", "BUY", 100.0), ("late", "BUY", 100.05), ("later", "BUY", 100.0))

    assert book.buy_limits_at_or_above(SYM, 100.0) == ["late", "early", "later"]


# --- stops -----------------------------------------------------------------------------------------------


def test_buy_stops_pop_lowest_trigger_first() -> None:
    book = RestingBook()
    for order_id, trigger in (("a", 105.0), ("b", 103.0), ("c", 110.0), ("d", 103.0)):
        book.add_stop(SYM, "BUY", trigger, order_id)

    assert book.buy_stops_at_or_below(SYM, 102.95) == []
    assert book.buy_stops_at_or_below(SYM, 105.0) == ["b", "d", "a"]
    assert book.buy_stops_at_or_below(SYM, 200.0) == ["c"]


def test_sell_stops_pop_highest_trigger_first() -> None:
    book = RestingBook()
    for order_id, trigger in (("a", 95.0), ("b", 97.0), ("c", 90.0), ("d", 97.0)):
        book.add_stop(SYM, "SELL", trigger, order_id)

    assert book.sell_stops_at_or_above(SYM, 97.05) == []
    assert book.sell_stops_at_or_above(SYM, 95.0) == ["b", "d", "a"]
    assert book.sell_stops_at_or_above(SYM, 1.0) == ["c"]


def test_limits_and_stops_and_symbols_are_kept_apart() -> None:
    book = RestingBook()
    book.add_limit(SYM, "BUY", 100.0, "limit")
    book.add_stop(SYM, "BUY", 100.0, "stop")
    book.add_limit("NSE:TCS", "BUY", 100.0, "other")

    assert book.buy_limits_at_or_above(SYM, 50.0) == ["limit"]
    assert book.buy_stops_at_or_below(SYM, 150.0) == ["stop"]
    assert book.sell_limits_at_or_below(SYM, 1000.0) == []
    assert book.buy_limits_at_or_above("NSE:TCS", 50.0) == ["other"]
    assert book.buy_limits_at_or_above("NSE:NONE", 50.0) == []


# --- lazy discard ------------------------------------------------------------------------------------------


def test_discard_is_lazy_but_discarded_orders_never_pop() -> None:
    book = _book(("a", "BUY", 101.0), ("b", "BUY", 100.0), ("c", "BUY", 99.0))

    book.discard(SYM, "a")
    book.discard(SYM, "c")

    assert ("a" in book, "b" in book, "c" in book) == (False, True, False)
    assert len(book) == 1
    assert book.has_orders(SYM)
    assert len(book.books[SYM].heaps[0]) == 3  # still in the heap: dropped only when reached
    assert book.buy_limits_at_or_above(SYM, 90.0) == ["b"]


def test_discarding_everything_empties_the_symbol() -> None:
    book = _book(("a", "BUY", 101.0), ("b", "SELL", 102.0))

    book.discard(SYM, "a")
    book.discard(SYM, "b")

    assert not book.has_orders(SYM)
    assert not book.books[SYM]
    assert len(book) == 0


def test_discard_of_an_unknown_or_repeated_id_is_a_no_op() -> None:
    book = _book(("a", "BUY", 101.0))

    book.discard(SYM, "nope")
    book.discard(SYM, "a")
    book.discard(SYM, "a")

    assert book.books[SYM].live == 0
    assert len(book) == 0


def test_an_order_that_rests_again_leaves_its_old_entry_dead() -> None:
    book = RestingBook()
    book.add_stop(SYM, "BUY", 1510.0, "a")

    book.discard(SYM, "a")  # modified: the trigger moves up
    book.add_stop(SYM, "BUY", 1520.0, "a")

    assert book.buy_stops_at_or_below(SYM, 1512.0) == []  # not at the old trigger
    assert book.buy_stops_at_or_below(SYM, 1520.0) == ["a"]
    assert (len(book), book.books[SYM].live) == (1, 1)


def test_a_limit_made_a_stop_no_longer_rests_as_a_limit() -> None:
    book = _book(("a", "SELL", 1510.0))

    book.discard(SYM, "a")
    book.add_stop(SYM, "SELL", 1450.0, "a")

    assert book.sell_limits_at_or_below(SYM, 1511.0) == []
    assert book.sell_stops_at_or_above(SYM, 1450.0) == ["a"]


def test_has_orders_on_an_unknown_symbol() -> None:
    assert not RestingBook().has_orders(SYM)


# --- reinsert -------------------------------------------------------------------------------------------


def test_reinsert_puts_a_popped_order_back() -> None:
    book = _book(("a", "BUY", 100.0), ("b", "BUY", 100.0))
    popped = book.buy_limits_at_or_above(SYM, 100.0)
    book.discard(SYM, "b")  # b filled

    book.reinsert_limit(SYM, "BUY", 100.0, "a")  # a only part filled

    assert popped == ["a", "b"]
    assert ("a" in book, "b" in book, len(book)) == (True, False, 1)
    assert book.books[SYM].live == 1
    assert book.buy_limits_at_or_above(SYM, 100.05) == []
    assert book.buy_limits_at_or_above(SYM, 100.0) == ["a"]


def test_reinserted_orders_keep_their_relative_time_priority() -> None:
    book = _book(("a", "SELL", 100.0), ("b", "SELL", 100.0), ("c", "SELL", 100.05))
    popped = book.sell_limits_at_or_below(SYM, 100.0)

    for order_id in popped:
        book.reinsert_limit(SYM, "SELL", 100.0, order_id)

    assert popped == ["a", "b"]
    assert book.sell_limits_at_or_below(SYM, 101.0) == ["a", "b", "c"]
    assert (len(book), book.books[SYM].live) == (3, 3)
