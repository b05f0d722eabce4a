"""Hostile config files: bytes that are not UTF-8, repeated keys, values out of range.

Each must be a ConfigError that names the file and the key (or line) and the value, never a raw
library traceback and never a silent load.
"""

from __future__ import annotations

import pytest

from execsvc.config import load_config
from execsvc.errors import ConfigError


def _load_bytes(tmp_path, data: bytes):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(data)
    return path, lambda: load_config(path)


def test_a_config_that_is_not_utf8_is_a_config_error_naming_file_and_line(tmp_path):
    path, load = _load_bytes(tmp_path, b"mode: paper\n# \xff\xfe\n")

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert str(path) in message
    assert "line 2" in message and "not UTF-8" in message and "0xff" in message


def test_a_repeated_key_is_refused_naming_the_key_and_both_lines(tmp_path):
    data = (
        b"execution:\n"
        b"  circuit_breakers:\n"
        b"    max_daily_loss_rupees: 1000\n"
        b"    max_daily_loss_rupees: 900000\n"
    )
    path, load = _load_bytes(tmp_path, data)

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert str(path) in message
    assert "duplicate key 'max_daily_loss_rupees'" in message
    assert "line 4" in message and "first on line 3" in message


@pytest.mark.parametrize(
    "data",
    [
        b"mode: paper\nmode: live\n",
        b"control: {port: 8080, port: 9090}\n",
        b"strategies:\n  - spec: a:B\n    params: {n: 1, n: 2}\n",
    ],
)
def test_repeated_keys_are_refused_at_any_depth(tmp_path, data):
    _path, load = _load_bytes(tmp_path, data)

    with pytest.raises(ConfigError, match="duplicate key"):
        load()


def test_a_merged_key_may_still_be_overridden(tmp_path):
    data = b"control:\n  <<: {port: 8080, host: 127.0.0.1}\n  port: 9090\n"
    _path, load = _load_bytes(tmp_path, data)
    assert load().control.port == 9090


def test_yaml_nested_too_deeply_is_a_config_error(tmp_path):
    path, load = _load_bytes(tmp_path, b"mode: " + b"[" * 20_000 + b"]" * 20_000 + b"\n")

    with pytest.raises(ConfigError) as info:
        load()

    assert str(path) in str(info.value)
