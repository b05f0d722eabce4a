"""The simulator's bind address: loopback by default; any other host is allowed (a desk may want it
on its LAN) but warned about, since it takes any api_key and access token."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from execsvc.sim import KiteSimulator
from execsvc.sim.simulator import is_loopback

GUARD = 5.0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),  # aiohttp binds every interface for an empty host
        ("192.168.1.5", False),
        ("desk-box.lan", False),
    ],
)
def test_loopback_hosts_are_told_from_the_rest(host, loopback):
    assert is_loopback(host) is loopback


async def test_binding_every_interface_warns_naming_the_host_and_still_serves(caplog):
    caplog.set_level(logging.WARNING, logger="execsvc.sim")
    sim = KiteSimulator()
    await sim.start("0.0.0.0", 0)
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "'0.0.0.0'" in warnings[0] and "not a loopback address" in warnings[0]
        assert "any api_key and access token" in warnings[0]
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{sim.port}/user/margins"
            headers = {"Authorization": "token anyone:anything", "X-Kite-Version": "3"}
            async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(GUARD)) as reply:
                assert reply.status == 200
    finally:
        await sim.stop()


async def test_the_default_loopback_bind_does_not_warn(caplog):
    caplog.set_level(logging.WARNING, logger="execsvc.sim")
    async with KiteSimulator() as sim:
        assert sim.host == "127.0.0.1"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
