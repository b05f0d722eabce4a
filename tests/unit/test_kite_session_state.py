"""The Kite session's states, advice and messages (``executors.kite.session``), without a broker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from execsvc.errors import BrokerAuthError
from execsvc.executors.kite.auth import Secret
from execsvc.executors.kite.session import KiteSession


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("file", "re-reads it every 2 s"),
        ("env", "$KITE_ACCESS_TOKEN, which a running process cannot re-read"),
        ("argument", "set_access_token(token)"),
    ],
)
def test_the_advice_depends_on_where_the_token_comes_from(source, says):
    session = KiteSession(source=source, token_file=Path("/x/kite_token"), poll_interval=2.0)
    assert says in session.advice() and "execsvc login" in session.advice()


def test_the_first_403_says_so_once_then_calls_and_intents_are_refused_unsent(caplog):
    changes: list[tuple[str, str]] = []
    session = KiteSession(source="file", on_change=lambda state, why: changes.append((state, why)))
    assert session.valid and session.refusal() is None
    session.check("GET", "/orders")  # valid: nothing raised
    with caplog.at_level(logging.DEBUG, logger="execsvc.kite.session"):
        for _ in range(3):
            session.expire("Kite GET /orders: HTTP 403 TokenException")
    assert [r.levelno for r in caplog.records].count(logging.ERROR) == 1
    assert changes == [("expired", "Kite GET /orders: HTTP 403 TokenException")]
    with pytest.raises(BrokerAuthError, match="not sent") as raised:
        session.check("DELETE", "/orders/regular/1")
    assert raised.value.http_status is None and raised.value.error_type == "TokenException"
    why = session.refusal()
    assert why is not None and "expired" in why and session.refused == 1
    assert session.to_dict()["state"] == "expired" and session.to_dict()["expirations"] == 1


def test_restoring_then_restored_hands_the_token_to_listeners_and_keeps_it_out_of_sight(caplog):
    changes: list[str] = []
    taken: list[str] = []
    session = KiteSession(source="file", on_change=lambda state, why: changes.append(state))
    session.on_token(taken.append)
    session.expire("HTTP 403")
    session.restoring(Secret("tok-new-123456"))
    assert taken == ["tok-new-123456"]  # at the swap: nobody tries the dead one meanwhile
    assert not session.valid and session.refusal() is not None
    session.check("GET", "/orders")  # restoring: the reconciliation's calls go out
    session.restored("reconciled: 0 working orders checked")
    assert session.valid and taken == ["tok-new-123456"] and changes == ["expired", "restored"]
    text = repr(session) + str(session.to_dict()) + caplog.text
    assert "tok-new-123456" not in text


def test_a_failing_journal_does_not_break_the_broker_call(caplog):
    def refuse(state: str, why: str) -> None:
        raise RuntimeError("journal fenced")

    session = KiteSession(on_change=refuse)
    session.expire("HTTP 403")  # logged, not raised
    assert session.state == "expired" and "could not journal" in caplog.text
