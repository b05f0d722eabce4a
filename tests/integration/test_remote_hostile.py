"""``RemoteExecution`` against hostile messages on the results stream and a hostile lease entry."""

from __future__ import annotations

import pytest

from execsvc import ExecutionService
from execsvc.bus.subjects import lease_key, results_subject
from execsvc.clock import LiveClock
from execsvc.journal.codec import encode_event
from execsvc.remote import NoActiveExecutorError, RemoteExecution
from tests.integration.test_nats import intent, nats_config, prime

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    "junk",
    [b"\xff not a result", b'{"type":"result"}', b"[]"],
    ids=["not UTF-8", "missing fields", "not an object"],
)
async def test_junk_before_the_first_result_does_not_hide_it_from_a_retry(tmp_path, nats_server, junk):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        async with RemoteExecution(nats_server.url, "acct1", timeout=2) as remote:
            await remote.js.publish(results_subject("acct1", "s1", "r1"), junk)
            await remote.js.publish(results_subject("acct1", "s1", "r1"), b'{"not": "a result"}')
            first = await remote.execute_intent(intent("r1"))
        # a producer that restarted sends it again: JetStream drops the copy, the stream answers
        async with RemoteExecution(nats_server.url, "acct1", timeout=2) as retry:
            again = await retry.execute_intent(intent("r1"))

    assert first.status == "FILLED"
    assert again == first


async def test_a_result_for_another_intent_on_its_subject_is_not_its_answer(tmp_path, nats_server):
    svc = ExecutionService(nats_config(tmp_path / "j", nats_server.url), clock=LiveClock())
    prime(svc)
    async with svc:
        async with RemoteExecution(nats_server.url, "acct1", timeout=2) as remote:
            other = await remote.execute_intent(intent("other", qty=7))
            await remote.js.publish(results_subject("acct1", "s1", "r1"), encode_event(other))
            first = await remote.execute_intent(intent("r1"))
        async with RemoteExecution(nats_server.url, "acct1", timeout=2) as retry:
            again = await retry.execute_intent(intent("r1"))

    assert (first.intent_id, first.filled_qty) == ("r1", 1)
    assert again == first


@pytest.mark.parametrize("value", [b"[1, 2]", b'"a"', b"{}", b'{"holder": null}', b"{not json"])
async def test_a_lease_entry_that_names_no_holder_means_no_executor(nats_server, value):
    async with RemoteExecution(nats_server.url, "acct1", timeout=1) as remote:
        kv = await remote.js.create_key_value(bucket="execsvc_leases")
        await kv.put(lease_key("acct1"), value)

        assert await remote.active_executor() is None
        with pytest.raises(NoActiveExecutorError, match="acct1"):
            await remote.execute_intent(intent("x1"))
