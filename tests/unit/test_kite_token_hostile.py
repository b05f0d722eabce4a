"""An access token no HTTP header can carry, or a token file that is not text: refused at load,
naming where it came from and never quoting the token."""

from __future__ import annotations

import os

import pytest

from execsvc.config import KiteConfig
from execsvc.errors import BrokerAuthError, ConfigError
from execsvc.executors.kite.auth import load_access_token

SECRET = "tok3nSEKRET"


def _file_config(tmp_path, data: bytes) -> KiteConfig:
    path = tmp_path / "kite_access_token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, data)
    os.close(fd)
    return KiteConfig(access_token_file=str(path), access_token_env="EXECSVC_TEST_NO_TOKEN")


@pytest.mark.parametrize(
    "data",
    [
        (SECRET + "\n" + SECRET).encode(),  # two tokens, one per line
        (SECRET + "\r").encode() + b"x",
        (SECRET + " x").encode(),
        (SECRET + "\u00e9").encode(),
    ],
    ids=["two lines", "carriage return", "space", "non-ASCII"],
)
def test_a_token_file_no_header_can_carry_is_refused_naming_the_file(tmp_path, data):
    # aiohttp refused such a header on every request with a ValueError: a live order task's crash
    config = _file_config(tmp_path, data)
    with pytest.raises(BrokerAuthError) as refused:
        load_access_token(config)
    assert str(refused.value).startswith(f"{config.access_token_file}: the access token holds a character")
    assert SECRET not in str(refused.value)


def test_a_token_file_that_is_not_utf8_is_a_config_error_without_its_bytes(tmp_path):
    config = _file_config(tmp_path, SECRET.encode() + b"\xff\xfe")
    with pytest.raises(ConfigError) as refused:
        load_access_token(config)  # UnicodeDecodeError escaped, carrying the token's bytes
    assert str(refused.value) == f"{config.access_token_file}: not UTF-8 text (byte 11): run `execsvc login`"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_token_in_the_environment_no_header_can_carry_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("EXECSVC_TEST_TOKEN", SECRET + " " + SECRET)
    with pytest.raises(BrokerAuthError) as refused:
        load_access_token(KiteConfig(access_token_env="EXECSVC_TEST_TOKEN"))
    assert str(refused.value).startswith("$EXECSVC_TEST_TOKEN: the access token holds a character")
    assert SECRET not in str(refused.value)
