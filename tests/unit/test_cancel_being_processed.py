"""Which refusals of a cancel mean "the order is being processed", so that it is sent again."""

from __future__ import annotations

import pytest

from execsvc.errors import BrokerRejectError
from execsvc.executors.kite.cancel_retry import being_processed


@pytest.mark.parametrize(
    ("message", "status", "expected"),
    [
        ("Order cannot be cancelled as it is being processed. Try later.", "OPEN", True),
        ("Order cannot be cancelled as it is being processed. Try later.", None, True),
        ("Some other refusal", "OPEN PENDING", True),
        ("Some other refusal", "MODIFY PENDING", True),
        ("Some other refusal", "OPEN", False),
        ("Some other refusal", None, False),
        ("Order cannot be cancelled as it is being processed.", "COMPLETE", False),
        ("Order cannot be cancelled as it is cancelled.", "CANCELLED", False),
    ],
)
def test_being_processed(message: str, status: str | None, expected: bool) -> None:
    assert (
        being_processed(BrokerRejectError(f"Kite DELETE /orders/regular/1: HTTP 400: {message}"), status)
        is expected
    )
