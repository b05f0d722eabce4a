"""Configs: the original design's block loads unchanged; bad keys and values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.config import config_from_dict, load_config
from execsvc.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

ORIGINAL = """
execution:
  # ExecutionEngine v2 configuration
  use_execution_engine_v2: false  # Set to true to enable
  dry_run: false  # When true, simulates live orders without actual placement
  slippage_bps: 5.0  # Slippage in basis points for paper fills
  use_bid_ask_spread: false  # Use bid-ask spread for more realistic fills

  circuit_breakers:
    max_daily_loss_rupees: 5000.0  # Stop trading when daily loss exceeds this
    max_daily_drawdown_pct: 0.02  # Stop trading when drawdown exceeds 2%
    max_trades_per_day: 100  # Maximum trades per day
    max_trades_per_strategy_per_day: 50  # Maximum trades per strategy per day
    max_loss_streak: 5  # Stop trading after N consecutive losses
"""


def test_the_original_execution_block_loads_unchanged(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text(ORIGINAL)
    config = load_config(path)
    cb = config.execution.circuit_breakers
    assert (cb.max_daily_loss_rupees, cb.max_daily_drawdown_pct, cb.max_trades_per_day) == (5000.0, 0.02, 100)
    assert (cb.max_trades_per_strategy_per_day, cb.max_loss_streak) == (50, 5)
    assert config.execution.slippage_bps == 5.0 and config.execution.use_execution_engine_v2 is False


@pytest.mark.parametrize("name", ["dev.yaml", "live.yaml", "sim.yaml"])
def test_the_shipped_configs_load(name):
    load_config(REPO / "configs" / name)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"execution": {"slipage_bps": 5}}, "unknown key 'execution.slipage_bps'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"journal": {"fsync": "sometimes"}}, "journal.fsync='sometimes'"),
        ({"execution": {"slippage_bps": "five"}}, "execution.slippage_bps='five'"),
        ({"execution": {"slippage_bps": -1}}, "execution.slippage_bps=-1"),
        (
            {"execution": {"circuit_breakers": {"max_loss_streak": -1}}},
            "execution.circuit_breakers.max_loss_streak=-1",
        ),
        ({"execution": {"circuit_breakers": {"max_daily_drawdown_pct": 2}}}, "max_daily_drawdown_pct=2"),
        ({"execution": {"default_exchange": "NYSE"}}, "execution.default_exchange='NYSE'"),
        ({"bus": {"queue_size": 0}}, "bus.queue_size=0"),
        ({"bus": {"backend": "kafka"}}, "bus.backend='kafka'"),
        ({"kite": {"market_protection": 0}}, "kite.market_protection=0"),
        ({"mode": "backtest"}, "mode='backtest'"),
    ],
)
def test_bad_keys_and_values_are_named(data, expected):
    with pytest.raises(ConfigError) as raised:
        config_from_dict(data, "test.yaml")
    assert expected in str(raised.value)
    assert str(raised.value).startswith("test.yaml: ")


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("execution: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(top)


def test_log_backups_zero_with_a_size_limit_is_refused_as_it_would_never_rotate():
    # Python's RotatingFileHandler never rotates without a backup: the "limited" log grew without
    # bound, reopened on every line once past the limit
    with pytest.raises(ConfigError) as raised:
        config_from_dict({"daemon": {"log_max_bytes": 1_000_000, "log_backups": 0}}, "test.yaml")

    message = str(raised.value)
    assert message.startswith("test.yaml: daemon.log_backups=0: ")
    assert "log_max_bytes" in message


@pytest.mark.parametrize(("max_bytes", "backups"), [(0, 0), (0, 5), (1_000_000, 1)])
def test_log_rotation_settings_that_rotate_or_never_try_still_load(max_bytes, backups):
    daemon = config_from_dict({"daemon": {"log_max_bytes": max_bytes, "log_backups": backups}}).daemon

    assert (daemon.log_max_bytes, daemon.log_backups) == (max_bytes, backups)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("control:\n  port: yes\n", "control.port=True: Expected `int`, got `bool`"),
        ("kite:\n  timeout_seconds: on\n", "kite.timeout_seconds=True: Expected `float`, got `bool`"),
        ("kite:\n  unknown_check_delays: [0.5, no]\n", "kite.unknown_check_delays[1]=False: Expected"),
        ("feed:\n  tokens: [408065, yes]\n", "feed.tokens[1]=True: Expected `int`, got `bool`"),
        (
            "execution:\n  circuit_breakers:\n    max_trades_per_day: yes\n",
            "execution.circuit_breakers.max_trades_per_day=True: Expected `int | null`, got `bool`",
        ),
        (
            "session:\n  square_off_mcx_minutes_before_close: yes\n",
            "session.square_off_mcx_minutes_before_close=True: Expected `int`, got `bool`",
        ),
        ("execution:\n  dry_run: 1\n", "execution.dry_run=1: Expected `bool`, got `int`"),
    ],
)
def test_a_yaml_boolean_where_a_number_belongs_is_refused_and_the_reverse(tmp_path, yaml_text, expected):
    # YAML 1.1 reads yes/no/on/off as booleans, and Python's True == 1: a lax decoder would load
    # "port: yes" as port 1 and "max_trades_per_day: yes" as a limit of one trade
    path = tmp_path / "bools.yaml"
    path.write_text(yaml_text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value).startswith(f"{path}: {expected}")
