"""parse_order_book: a row we cannot read stops nothing unless it may be ours."""

from __future__ import annotations

from typing import Any

import pytest

from execsvc.errors import BrokerDataError
from execsvc.executors.kite.mapping import is_our_tag, tag_for
from execsvc.executors.kite.models import parse_order_book


def row(order_id: str, **kw: Any) -> dict[str, Any]:
    return {"order_id": order_id, "status": "OPEN", "quantity": 5, "filled_quantity": 0, **kw}


def test_a_foreign_row_that_does_not_parse_is_skipped_and_reported() -> None:
    ours = row("1", tag=tag_for("i1"))
    book = [row("9", quantity=2.5, tag="webapp"), ours, row("8", quantity="many")]
    orders, skipped = parse_order_book(book, is_our_tag)
    assert [o.order_id for o in orders] == ["1"]
    assert len(skipped) == 2 and "order_id='9'" in skipped[0] and "quantity=2.5" in skipped[0]


@pytest.mark.parametrize(
    "bad",
    [
        row("7", quantity=2.5, tag=tag_for("i7")),  # ours by its tag
        row("7", quantity=2.5, tags=["x", tag_for("i7")]),  # ours by one of its tags
        row("7", quantity=2.5, tag=123),  # a tag that is not a string: it may be ours
        "not an object",
    ],
)
def test_a_row_that_may_be_ours_fails_the_read(bad: Any) -> None:
    with pytest.raises(BrokerDataError, match=r"orders\[1\]"):
        parse_order_book([row("1"), bad], is_our_tag)


def test_a_book_that_is_not_a_list_fails() -> None:
    with pytest.raises(BrokerDataError, match="expected a list"):
        parse_order_book({"orders": []}, is_our_tag)


def test_a_foreign_tag_that_only_starts_like_ours_is_not_ours() -> None:
    orders, skipped = parse_order_book([row("9", quantity=2.5, tag="exit_all"), row("1")], is_our_tag)
    assert [o.order_id for o in orders] == ["1"] and len(skipped) == 1
