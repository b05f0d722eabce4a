"""A NaN or an infinity inside ``metadata`` is refused at validation by its path and value, journaled
REJECTED and nothing placed: JSON has neither, so it would have been journaled (and sent) as null.

Every way in: the library (in process, and over a real nats-server), and ``POST /intents`` with the
``NaN`` and ``Infinity`` Python's ``json`` writes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from execsvc import ExecutionService
from execsvc.clock import LiveClock, ReplayClock
from execsvc.control import start_control
from execsvc.errors import IntentValidationError
from execsvc.events import OrderIntent
from execsvc.json_input import NON_FINITE_REASON
from execsvc.metrics import ServiceMetrics
from execsvc.remote import RemoteExecution
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick
from tests.integration.test_nats import journal_orders, nats_config, prime

TOKEN = "s3cret-control-token"


def _intent(intent_id: str, metadata: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        intent_id=intent_id, symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, metadata=metadata
    )


def _journal(journal_dir: Path) -> list[dict[str, Any]]:
    path = journal_dir / f"{DAY.isoformat()}.jsonl"
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


def _assert_refused_by_name(answer: Any, field: str, value: str) -> None:
    assert answer.status == "REJECTED" and answer.reject_reason == "validation", answer
    assert f"{field}={value}: {NON_FINITE_REASON}" in answer.message
    assert {"field": field, "value": value, "reason": NON_FINITE_REASON} in (answer.raw or {})["errors"]


@pytest.mark.parametrize(
    ("metadata", "field", "value"),
    [
        ({"fair": [101.5, math.nan]}, "metadata.fair[1]", "nan"),
        ({"band": {"hi": math.inf}}, "metadata.band.hi", "inf"),
        ({"band": {"lo": [[-math.inf]]}}, "metadata.band.lo[0][0]", "-inf"),
    ],
)
async def test_execute_intent_refuses_a_non_finite_metadata_number_by_name(
    journal_dir: Path, clock: ReplayClock, metadata: dict[str, Any], field: str, value: str
) -> None:
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    async with svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        answer = await svc.execute_intent(_intent("nf-lib", metadata))
        with pytest.raises(IntentValidationError) as raised:
            await svc.execute_intent(_intent("nf-raise", metadata), raise_on_reject=True)

    _assert_refused_by_name(answer, field, value)
    assert f"{field}={value}: {NON_FINITE_REASON}" in str(raised.value)
    journal = _journal(journal_dir)
    rejected = {e["intent_id"] for e in journal if e["type"] == "result" and e["status"] == "REJECTED"}
    assert rejected == {"nf-lib", "nf-raise"}
    assert [e for e in journal if e["type"] in ("order_accepted", "fill")] == []


async def test_post_intents_refuses_the_nan_pythons_json_writes_by_name(
    journal_dir: Path, clock: ReplayClock
) -> None:
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    body = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 1, "intent_id": "nf-http"}
    body["metadata"] = {"fair": [101.5, math.nan], "cap": math.inf}
    async with svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        metrics = ServiceMetrics(svc)
        server = await start_control(svc, port=0, token=TOKEN, metrics=metrics)
        try:
            async with aiohttp.ClientSession() as http:
                data = json.dumps(body).encode()  # allow_nan: '"fair": [101.5, NaN], "cap": Infinity'
                assert b"NaN" in data
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with http.post(server.url + "/intents", data=data, headers=headers) as resp:
                    status, answer = resp.status, await resp.json()
        finally:
            await server.stop()
            metrics.close()

    assert status == 400, answer
    named = {(e["field"], e["value"]) for e in answer["errors"]}
    assert named == {("metadata.fair[1]", "nan"), ("metadata.cap", "inf")}
    assert answer["result"]["status"] == "REJECTED" and answer["result"]["intent_id"] == "nf-http"
    journal = _journal(journal_dir)
    assert [e["status"] for e in journal if e["type"] == "result"] == ["REJECTED"]
    assert [e for e in journal if e["type"] in ("order_accepted", "fill")] == []


async def test_over_nats_a_non_finite_metadata_number_is_refused_by_name_not_journaled_as_null(
    tmp_path: Path, nats_server: Any
) -> None:
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    metadata = {"fair": [101.5, math.nan]}
    async with svc, RemoteExecution(nats_server.url, "acct1", timeout=5) as remote:
        local = await svc.execute_intent(_intent("nf-local", metadata))
        remote_answer = await remote.execute_intent(_intent("nf-remote", metadata))

    for answer in (local, remote_answer):
        _assert_refused_by_name(answer, "metadata.fair[1]", "nan")
    assert journal_orders(tmp_path / "j") == Counter()
