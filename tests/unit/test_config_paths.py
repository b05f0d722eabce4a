"""Config paths that load but do not mean what they say: a leading ``~`` is not expanded.

Only ``kite.access_token_file`` expands ``~``; every other path is used as written, so
``journal.dir: ~/journal`` would put the journal in a directory named ``~`` under the current one.
"""

from __future__ import annotations

import pytest

from execsvc.config import load_config
from execsvc.errors import ConfigError


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
