"""What ``NatsBus.status`` shows operators (``/status``, every ``/events`` status frame)."""

from __future__ import annotations

import pytest

from execsvc.bus.memory import MemoryBus
from execsvc.bus.nats import NatsBus
from execsvc.config import NatsConfig


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        ("nats://trader:s3cret@10.0.0.5:4222", "nats://***@10.0.0.5:4222"),
        ("tls://s3cret@nats1:4222", "tls://***@nats1:4222"),
        ("nats://10.0.0.5:4222", "nats://10.0.0.5:4222"),
        ("10.0.0.5:4222", "10.0.0.5:4222"),
    ],
    ids=["user and password", "token", "no credentials", "no scheme"],
)
def test_the_status_never_shows_the_credentials_in_a_server_url(server: str, shown: str) -> None:
    """NATS takes its credentials in the server URL (bus.nats has no other place for them); the
    status echoed bus.nats.servers as configured, password and token included, to /status and to
    every status frame of the live page's event stream."""
    bus = NatsBus(NatsConfig(servers=[server]), inner=MemoryBus(), now_ns=lambda: 0)
    status = bus.status()
    assert status["servers"] == [shown]
    assert "s3cret" not in repr(status)
