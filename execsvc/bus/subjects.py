"""NATS subjects and JetStream stream names for one broker account (pure functions).

- intents: ``execsvc.<account>.intents.<strategy>`` on stream ``EXECSVC_<ACCOUNT>_INTENTS``;
- results: ``execsvc.<account>.results.<strategy>.<intent hash>`` on ``EXECSVC_<ACCOUNT>_RESULTS``:
  the intent's hash as the last token lets anyone fetch an intent's latest result directly.

Strategy codes and account names may hold characters that are special in subjects (``.``, ``*``,
``>``); they are mapped to ``_``.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")

SQUARE_OFF_HEADER = "Execsvc-Square-Off"
KEY_HEADER = "Execsvc-Key"
MSG_ID_HEADER = "Nats-Msg-Id"
NON_FINITE_HEADER = "Execsvc-Non-Finite"
"""JSON ``[[keys, "nan" | "inf" | "-inf"], ...]``: the floats JSON cannot carry, written null in the body."""


def token(text: str) -> str:
    """``text`` as one subject token."""
    return _UNSAFE.sub("_", text) or "_"


def intent_hash(intent_id: str) -> str:
    """The 32-hex-digit token of an intent id in result subjects."""
    return hashlib.sha256(intent_id.encode()).hexdigest()[:32]


def intents_subject(account: str, strategy_code: str) -> str:
    """Where a producer publishes a strategy's intents."""
    return f"execsvc.{token(account)}.intents.{token(strategy_code)}"


def intents_wildcard(account: str) -> str:
    """Every intent of the account."""
    return f"execsvc.{token(account)}.intents.>"


def results_subject(account: str, strategy_code: str, intent_id: str) -> str:
    """Where the executor publishes the results of one intent."""
    return f"execsvc.{token(account)}.results.{token(strategy_code)}.{intent_hash(intent_id)}"


def results_wildcard(account: str) -> str:
    """Every result of the account."""
    return f"execsvc.{token(account)}.results.>"


def stream_name(account: str, kind: str) -> str:
    """``EXECSVC_<ACCOUNT>_<KIND>`` (stream names may not hold dots)."""
    return f"EXECSVC_{token(account).upper()}_{kind.upper()}"


def lease_key(account: str) -> str:
    """The lease's key in the key-value bucket."""
    return f"executor.{token(account)}"
