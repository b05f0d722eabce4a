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


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("control:\n  port: 70000\n", "control.port=70000"),
        ("control:\n  port: -5\n", "control.port=-5"),
        ("feed:\n  speed: 0\n", "feed.speed=0.0"),
        ("feed:\n  speed: -2\n", "feed.speed=-2.0"),
        ("feed:\n  speed: .nan\n", "feed.speed=nan"),
        ("feed:\n  heartbeat_timeout_seconds: 0\n", "feed.heartbeat_timeout_seconds=0.0"),
        ("feed:\n  tokens: [408065, -1]\n", "feed.tokens[1]=-1"),
        ("feed:\n  tokens: [4294967296]\n", "feed.tokens[0]=4294967296"),
        ("kite:\n  poll_interval_seconds: 0\n", "kite.poll_interval_seconds=0.0"),
        ("kite:\n  timeout_seconds: .inf\n", "kite.timeout_seconds=inf"),
        ("kite:\n  unknown_give_up_seconds: -1\n", "kite.unknown_give_up_seconds=-1.0"),
        ("kite:\n  unknown_check_delays: [-1, .nan]\n", "kite.unknown_check_delays[0]=-1.0"),
        ("kite:\n  unknown_check_delays: [0.5, .nan]\n", "kite.unknown_check_delays[1]=nan"),
        ("kite:\n  market_protection: .nan\n", "kite.market_protection=nan"),
        (
            "kite:\n  rate_limits:\n    modifications_per_order: 0\n",
            "kite.rate_limits.modifications_per_order=0",
        ),
        ("kite:\n  rate_limits:\n    penalty_seconds: .nan\n", "kite.rate_limits.penalty_seconds=nan"),
        ("kite:\n  rate_limits:\n    margin_seconds: -0.1\n", "kite.rate_limits.margin_seconds=-0.1"),
        ("bus:\n  nats:\n    lease_ttl_seconds: 0\n", "bus.nats.lease_ttl_seconds=0.0"),
        ("bus:\n  nats:\n    replicas: 0\n", "bus.nats.replicas=0"),
        ("bus:\n  nats:\n    replicas: 7\n", "bus.nats.replicas=7"),
        ("bus:\n  nats:\n    fetch_batch: 0\n", "bus.nats.fetch_batch=0"),
        ("bus:\n  nats:\n    ack_wait_seconds: -1\n", "bus.nats.ack_wait_seconds=-1.0"),
        ("bus:\n  nats:\n    retention_seconds: .inf\n", "bus.nats.retention_seconds=inf"),
        ("bus:\n  nats:\n    duplicate_window_seconds: 0\n", "bus.nats.duplicate_window_seconds=0.0"),
        ("bus:\n  nats:\n    connect_timeout_seconds: .nan\n", "bus.nats.connect_timeout_seconds=nan"),
        ("market:\n  default_tick_size: .inf\n", "market.default_tick_size=inf"),
        ("market:\n  default_tick_size: .nan\n", "market.default_tick_size=nan"),
        ("daemon:\n  drain_timeout_seconds: -1\n", "daemon.drain_timeout_seconds=-1.0"),
        ("daemon:\n  after_close_seconds: .nan\n", "daemon.after_close_seconds=nan"),
        ("daemon:\n  after_close_seconds: -5\n", "daemon.after_close_seconds=-5.0"),
        ("daemon:\n  log_max_bytes: -1\n", "daemon.log_max_bytes=-1"),
        ("daemon:\n  log_backups: -1\n", "daemon.log_backups=-1"),
        (
            "execution:\n  circuit_breakers:\n    max_daily_loss_rupees: .nan\n",
            "execution.circuit_breakers.max_daily_loss_rupees=nan",
        ),
        (
            "execution:\n  circuit_breakers:\n    max_trades_per_day: -100000000000000000000000\n",
            "execution.circuit_breakers.max_trades_per_day=-100000000000000000000000",
        ),
    ],
)
def test_a_value_out_of_range_is_a_config_error_naming_key_and_value(tmp_path, yaml_text, expected):
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    assert str(path) in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "yaml_text",
    [
        "control:\n  port: 0\n",
        "control:\n  port: 65535\n",
        "feed:\n  speed: null\n",
        "feed:\n  speed: 0.5\n",
        "kite:\n  unknown_check_delays: [0, 0.5]\n",
        "kite:\n  unknown_check_delays: []\n",  # lookups every poll_interval_seconds
        "kite:\n  rate_limits:\n    penalty_seconds: 0\n    margin_seconds: 0\n",
        "bus:\n  nats:\n    replicas: 5\n",
        "daemon:\n  drain_timeout_seconds: 0\n  log_max_bytes: 0\n  log_backups: 0\n",
        "execution:\n  circuit_breakers:\n    max_trades_per_day: 100000000000000000000000\n",
        "market:\n  instruments_file: null\n",
        "control:\n  token_file: null\n",
        "journal:\n  dir: .\n",
    ],
)
def test_the_edges_of_each_range_still_load(tmp_path, yaml_text):
    _path, load = _load_bytes(tmp_path, yaml_text.encode())

    load()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ('journal:\n  dir: ""\n', "journal.dir=''"),
        ('journal:\n  dir: "  "\n', "journal.dir='  '"),
        ('daemon:\n  logs_dir: ""\n', "daemon.logs_dir=''"),
        ('daemon:\n  state_dir: ""\n', "daemon.state_dir=''"),
        ('market:\n  instruments_file: ""\n', "market.instruments_file=''"),
        ('charges:\n  rates_file: ""\n', "charges.rates_file=''"),
        ('session:\n  holidays_file: ""\n', "session.holidays_file=''"),
        ('kite:\n  access_token_file: ""\n', "kite.access_token_file=''"),
        ('control:\n  token_file: ""\n', "control.token_file=''"),
        ('feed:\n  ticks: [day1.jsonl, ""]\n', "feed.ticks[1]=''"),
    ],
)
def test_an_empty_path_is_refused_naming_key_and_value(tmp_path, yaml_text, expected):
    # an empty path is the current directory: a journal, logs or snapshots written wherever the
    # daemon happened to start, or a file "not found" or "is a directory" with no key named
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert message.startswith(f"{path}: {expected}: ")
    assert "must not be empty" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected", "reason"),
    [
        # nats-py retries an empty server pool forever without awaiting: the event loop spins
        ("bus:\n  nats:\n    servers: []\n", "bus.nats.servers=[]", "at least one server"),
        (
            'bus:\n  nats:\n    servers: ["nats://127.0.0.1:4222", " "]\n',
            "bus.nats.servers[1]=' '",
            "must not be empty",
        ),
        ('bus:\n  nats:\n    account: ""\n', "bus.nats.account=''", "must not be empty"),
        ('bus:\n  nats:\n    lease_bucket: ""\n', "bus.nats.lease_bucket=''", "letters, digits"),
        ("bus:\n  nats:\n    lease_bucket: a.b\n", "bus.nats.lease_bucket='a.b'", "letters"),
        (
            "bus:\n  nats:\n    retention_seconds: 60\n    duplicate_window_seconds: 120\n",
            "bus.nats.duplicate_window_seconds=120.0",
            "at most bus.nats.retention_seconds (60.0)",
        ),
    ],
)
def test_a_nats_setting_jetstream_cannot_use_is_refused(tmp_path, yaml_text, expected, reason):
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert message.startswith(f"{path}: {expected}: ")
    assert reason in message


@pytest.mark.parametrize(
    "yaml_text",
    [
        "bus:\n  nats:\n    servers: [127.0.0.1:4222, tls://nats.example:4222]\n",
        "bus:\n  nats:\n    lease_bucket: Exec-svc_2\n",
        "bus:\n  nats:\n    retention_seconds: 120\n    duplicate_window_seconds: 120\n",
    ],
)
def test_nats_settings_jetstream_accepts_still_load(tmp_path, yaml_text):
    _path, load = _load_bytes(tmp_path, yaml_text.encode())

    load()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ('kite:\n  access_token_env: ""\n', "kite.access_token_env=''"),
        ('kite:\n  api_secret_env: " "\n', "kite.api_secret_env=' '"),
        ('control:\n  token_env: ""\n', "control.token_env=''"),
        ("control:\n  token_env: TOKEN=abc\n", "control.token_env='TOKEN=abc'"),
        ('control:\n  token_env: "TOKEN\\0"\n', "control.token_env='TOKEN\\x00'"),
    ],
)
def test_an_environment_variable_name_that_names_none_is_refused(tmp_path, yaml_text, expected):
    # "", a name with "=" or a NUL is never set: the token or secret would silently come from elsewhere
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert message.startswith(f"{path}: {expected}: ")
    assert "must name an environment variable" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected", "reason"),
    [
        ('kite:\n  root: ""\n', "kite.root=''", "an http:// or https:// URL with a host"),
        ("kite:\n  root: api.kite.trade\n", "kite.root='api.kite.trade'", "an http:// or https:// URL"),
        (
            "kite:\n  root: ftp://api.kite.trade\n",
            "kite.root='ftp://api.kite.trade'",
            "an http:// or https://",
        ),
        ("kite:\n  root: https://\n", "kite.root='https://'", "with a host"),
        ("kite:\n  root: http://[::1\n", "kite.root='http://[::1'", "with a host"),
        ('kite:\n  ws_root: ""\n', "kite.ws_root=''", "a ws:// or wss:// URL with a host"),
        ("kite:\n  ws_root: ws.kite.trade\n", "kite.ws_root='ws.kite.trade'", "a ws:// or wss:// URL"),
    ],
)
def test_a_kite_root_that_is_not_a_url_is_refused(tmp_path, yaml_text, expected, reason):
    # found only at the first request: the login, the start-up checks or the WebSocket connect
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    message = str(info.value)
    assert message.startswith(f"{path}: {expected}: ")
    assert reason in message


@pytest.mark.parametrize(
    "yaml_text",
    [
        "kite:\n  root: http://127.0.0.1:8787/\n  ws_root: ws://127.0.0.1:8787/\n",
        "kite:\n  root: https://api.kite.trade\n  ws_root: wss://ws.kite.trade\n",
        "kite:\n  ws_root: http://127.0.0.1:8787\n",  # aiohttp's ws_connect takes http(s) too
    ],
)
def test_kite_roots_that_are_urls_still_load(tmp_path, yaml_text):
    _path, load = _load_bytes(tmp_path, yaml_text.encode())

    load()


@pytest.mark.parametrize("host", ['""', '" "'])
def test_a_blank_control_host_is_refused(tmp_path, host):
    # "" binds every interface without saying so, and the page's URL is printed as http://:8080
    path, load = _load_bytes(tmp_path, f"control:\n  host: {host}\n".encode())

    with pytest.raises(ConfigError) as info:
        load()

    assert str(info.value).startswith(f"{path}: control.host={host[1:-1]!r}: must name an address")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "feed:\n  tokens: [408065, 779521, 408065]\n",
            "feed.tokens[2]=408065: listed twice (feed.tokens[0])",
        ),
        (
            "feed:\n  ticks: [day1.jsonl.gz, day2.jsonl.gz, ./day1.jsonl.gz]\n",
            "feed.ticks[2]='./day1.jsonl.gz': listed twice (feed.ticks[0])",
        ),
    ],
)
def test_a_feed_entry_listed_twice_is_refused(tmp_path, yaml_text, expected):
    # a tick file listed twice is replayed twice: the strategies see (and trade) the day again
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    assert str(info.value).startswith(f"{path}: {expected}")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ('strategies:\n  - spec: ""\n', "strategies[0].spec='': must be MODULE:CLASS"),
        (
            "strategies:\n  - spec: a.b:C\n  - spec: execsvc.strategies.samples\n",
            "strategies[1].spec='execsvc.strategies.samples': must be MODULE:CLASS",
        ),
        ("strategies:\n  - spec: ':C'\n", "strategies[0].spec=':C': must be MODULE:CLASS"),
        (
            "strategies:\n  - {spec: a:B, params: {n: 1, m: 2}}\n  - {spec: a:B, params: {m: 2, n: 1}}\n",
            "strategies[1].spec='a:B': listed twice with the same params (strategies[0])",
        ),
    ],
)
def test_a_strategy_entry_that_cannot_be_one_strategy_is_refused(tmp_path, yaml_text, expected):
    # a copy of an entry trades everything twice, into one position both count as theirs
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    assert str(info.value).startswith(f"{path}: {expected}")


def test_one_strategy_class_with_different_params_still_loads(tmp_path):
    text = "strategies:\n  - {spec: a:B, params: {n: 1}}\n  - {spec: a:B, params: {n: 2}}\n  - spec: a:B\n"
    _path, load = _load_bytes(tmp_path, text.encode())

    assert [s.params for s in load().strategies] == [{"n": 1}, {"n": 2}, {}]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "session:\n  square_off_mcx_minutes_before_close: 0\n",
            "session.square_off_mcx_minutes_before_close=0",
        ),
        ('session:\n  equity_open: "9:15"\n', "session.equity_open='9:15'"),
        ('session:\n  equity_close: "15:00"\n', "session.equity_close='15:00': must be after"),
    ],
)
def test_a_bad_session_time_names_the_file_as_every_other_key_does(tmp_path, yaml_text, expected):
    path, load = _load_bytes(tmp_path, yaml_text.encode())

    with pytest.raises(ConfigError) as info:
        load()

    assert str(info.value).startswith(f"{path}: {expected}")
