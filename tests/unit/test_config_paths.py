"""Config paths that load but do not mean what they say: a leading ``~`` is not expanded.

Only ``kite.access_token_file`` expands ``~``; every other path is used as written, so
``journal.dir: ~/journal`` would put the journal in a directory named ``~`` under the current one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.cli import main
from execsvc.config import config_from_dict, load_config
from execsvc.errors import ConfigError
from execsvc.reference import load_instruments

ROOT = Path(__file__).resolve().parents[2]
TICKS = str(ROOT / "data" / "sample" / "ticks.jsonl.gz")
STRATEGY = "execsvc.strategies.samples:MovingAverageCross"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("journal:\n  dir: ~/execsvc/journal\n", "journal.dir='~/execsvc/journal'"),
        ("daemon:\n  logs_dir: ~/logs\n", "daemon.logs_dir='~/logs'"),
        ("daemon:\n  state_dir: ~trader/state\n", "daemon.state_dir='~trader/state'"),
        ("market:\n  instruments_file: ~/instruments.csv\n", "market.instruments_file='~/instruments.csv'"),
        ("charges:\n  rates_file: ~/charges.yaml\n", "charges.rates_file='~/charges.yaml'"),
        ("session:\n  holidays_file: ~/holidays.yaml\n", "session.holidays_file='~/holidays.yaml'"),
        ("control:\n  token_file: ~/.config/execsvc/token\n", "control.token_file='~/.config/execsvc/token'"),
        ("feed:\n  ticks: [day1.jsonl, ~/day2.jsonl]\n", "feed.ticks[1]='~/day2.jsonl'"),
    ],
)
def test_a_path_with_a_leading_tilde_is_refused_where_it_is_not_expanded(tmp_path, yaml_text, expected):
    path = tmp_path / "tilde.yaml"
    path.write_text(yaml_text)

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert message.startswith(f"{path}: {expected}: ")
    assert "~ is not expanded" in message


@pytest.mark.parametrize(
    "yaml_text",
    [
        "kite:\n  access_token_file: ~/.config/execsvc/kite_access_token\n",  # expanded by auth
        "journal:\n  dir: artifacts/~tmp/journal\n",  # a ~ inside a path is an ordinary character
        "journal:\n  dir: /var/lib/execsvc/journal\n",
    ],
)
def test_paths_used_as_written_still_load(tmp_path, yaml_text):
    path = tmp_path / "fine.yaml"
    path.write_text(yaml_text)

    load_config(path)


def test_an_instruments_file_the_config_names_but_that_is_missing_stops_the_start(tmp_path, caplog):
    # a walk-through found a mistyped dump only WARNED and the service traded on with no lot-size,
    # tick-grid, expiry or freeze checks, though the dump's rows are read strictly
    missing = tmp_path / "instruments-2026-11-25.csv"
    config = config_from_dict({"market": {"instruments_file": str(missing)}})

    with pytest.raises(ConfigError) as info:
        load_instruments(config)

    assert str(info.value).startswith(f"market.instruments_file={str(missing)!r}: no such file")


def test_a_replay_naming_a_missing_instruments_file_exits_2_naming_it(tmp_path, capsys):
    config = tmp_path / "typo.yaml"
    config.write_text("market:\n  instruments_file: data/sample/instrument.csv\n")

    code = main(["replay", "--config", str(config), "--ticks", TICKS, "--strategy", STRATEGY,
                 "--journal-dir", str(tmp_path / "journal")])  # fmt: skip

    assert code == 2
    assert "market.instruments_file='data/sample/instrument.csv': no such file" in capsys.readouterr().err
    assert not (tmp_path / "journal").exists()


def test_the_default_instruments_file_not_shipped_only_warns(caplog):
    config = config_from_dict({})  # market.instruments_file: configs/instruments.csv, not shipped

    instruments = load_instruments(config)

    assert len(instruments) == 0
    assert "instruments file configs/instruments.csv not found" in caplog.text
