"""``bus.nats`` durations JetStream refuses: each is a ConfigError at load, not a server error at start.

JetStream wants a stream's max age, its duplicate window and a key-value bucket's TTL of at least
100 ms, and every duration to fit Go's ``time.Duration`` (int64 nanoseconds, about 292 years).
"""

from __future__ import annotations

import pytest

from execsvc.config import config_from_dict
from execsvc.errors import ConfigError


@pytest.mark.parametrize(
    ("nats", "expected"),
    [
        ({"retention_seconds": 0.05, "duplicate_window_seconds": 0.05}, "bus.nats.retention_seconds=0.05"),
        ({"duplicate_window_seconds": 0.01}, "bus.nats.duplicate_window_seconds=0.01"),
        ({"lease_ttl_seconds": 0.05}, "bus.nats.lease_ttl_seconds=0.05"),
        ({"retention_seconds": 1e12}, "bus.nats.retention_seconds=1000000000000.0"),
        ({"lease_ttl_seconds": 1e10}, "bus.nats.lease_ttl_seconds=10000000000.0"),
        ({"ack_wait_seconds": 1e10}, "bus.nats.ack_wait_seconds=10000000000.0"),
    ],
)
def test_a_duration_outside_jetstreams_limits_is_refused(nats, expected):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"bus": {"nats": nats}}, "nats.yaml")

    message = str(info.value)
    assert message.startswith(f"nats.yaml: {expected}: ")
    assert "JetStream" in message


@pytest.mark.parametrize(
    "nats",
    [
        {"retention_seconds": 0.1, "duplicate_window_seconds": 0.1, "lease_ttl_seconds": 0.1},
        {"retention_seconds": 9_223_372_036, "lease_ttl_seconds": 9_223_372_036},
        {"ack_wait_seconds": 0.001},  # a consumer's ack wait has no lower limit
    ],
)
def test_durations_at_jetstreams_limits_still_load(nats):
    config = config_from_dict({"bus": {"nats": nats}}, "nats.yaml")

    assert {key: getattr(config.bus.nats, key) for key in nats} == nats
