"""``RemoteExecution`` when JetStream refuses a publish: it sends it again until its timeout, then
raises an error of ours, never nats-py's (found under load: a producer failed on
``ServiceUnavailableError`` while JetStream came back after a server restart)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from nats.js.api import StreamConfig

from execsvc.bus.subjects import MSG_ID_HEADER, intents_wildcard, lease_key, stream_name
from execsvc.remote import RemoteExecution, RemoteTimeoutError, RemoteUnavailableError
from tests.integration.test_nats import intent

pytestmark = pytest.mark.timeout(60)


class _Refusals(logging.Handler):
    """Sets ``seen`` at the first 'JetStream refused' warning of ``execsvc.remote``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = asyncio.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("JetStream refused"):
            self.messages.append(message)
            self.seen.set()


async def _leased_account_without_streams(remote: RemoteExecution) -> None:
    """An executor named in the lease, but no intents stream: every publish gets 'no responders'."""
    kv = await remote.js.create_key_value(bucket="execsvc_leases")
    await kv.put(lease_key("acct1"), json.dumps({"holder": "exec-a"}).encode())


async def test_a_publish_refused_until_the_timeout_raises_our_error_naming_the_intent(nats_server):
    async with RemoteExecution(nats_server.url, "acct1", timeout=0.5) as remote:
        await _leased_account_without_streams(remote)

        with pytest.raises(RemoteUnavailableError, match=r"u1 within 0\.5 s") as caught:
            await remote.execute_intent(intent("u1"))

    assert "NoStreamResponseError" in str(caught.value)
    assert "send it again with the same intent id" in str(caught.value)


async def test_a_publish_refused_while_the_stream_is_missing_goes_through_once_it_is_back(nats_server):
    refusals = _Refusals()
    logging.getLogger("execsvc.remote").addHandler(refusals)
    try:
        async with RemoteExecution(nats_server.url, "acct1", timeout=5.0) as remote:
            await _leased_account_without_streams(remote)
            sending = asyncio.ensure_future(remote.execute_intent(intent("u2")))
            await asyncio.wait_for(refusals.seen.wait(), 5)
            stream = stream_name("acct1", "intents")
            await remote.js.add_stream(StreamConfig(name=stream, subjects=[intents_wildcard("acct1")]))

            # taken now; no executor consumes it, so no result comes: the wait times out
            with pytest.raises(RemoteTimeoutError, match="u2"):
                await sending
            stored = await remote.js.get_msg(stream, seq=1)
            info = await remote.js.stream_info(stream)
    finally:
        logging.getLogger("execsvc.remote").removeHandler(refusals)

    assert info.state.messages == 1  # sent again until taken, and taken once
    assert stored.headers[MSG_ID_HEADER] == "u2"
    assert json.loads(stored.data)["intent_id"] == "u2"
    assert "u2" in refusals.messages[0] and "NoStreamResponseError" in refusals.messages[0]
