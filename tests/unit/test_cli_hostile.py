"""Hostile command-line arguments: a one-line error naming the argument and value, exit 2, no traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from execsvc.cli import build_parser, main, setup_logging
from execsvc.errors import ConfigError
from execsvc.logs import register_secret
from execsvc.strategies.base import load_strategy

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "dev.yaml")
TICKS = str(ROOT / "data" / "sample" / "ticks.jsonl.gz")
STRATEGY = "execsvc.strategies.samples:MovingAverageCross"
REPLAY = ["replay", "--config", CONFIG, "--ticks", TICKS, "--strategy", STRATEGY]


@pytest.fixture(autouse=True)
def own_log_handlers() -> Iterator[None]:
    """``main`` adds a stderr handler (basicConfig) to the root logger: one left by an earlier test
    writes to that test's closed capture, and that would print "--- Logging error ---" here."""
    saved = logging.root.handlers[:]
    logging.root.handlers = []
    try:
        yield
    finally:
        logging.root.handlers = saved


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf", "-inf", "abc"])
@pytest.mark.parametrize("command", ["replay", "run", "kite-sim"])
def test_a_speed_that_is_not_a_positive_number_is_refused(capsys, command, speed):
    argv = {
        "replay": REPLAY,
        "run": ["run", "--config", CONFIG],
        "kite-sim": ["kite-sim"],
    }[command] + [f"--speed={speed}"]

    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)

    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --speed: '{speed}'" in err
    assert "Traceback" not in err


def test_a_positive_speed_is_taken():
    args = build_parser().parse_args(["run", "--config", CONFIG, "--speed", "2.5"])
    assert args.speed == 2.5


@pytest.mark.parametrize(
    "spec", ["execsvc.cli:main", "execsvc.cli:build_parser", "execsvc.errors:ConfigError"]
)
def test_a_spec_that_is_not_a_strategy_class_is_refused_without_being_called(spec, monkeypatch):
    called = []
    monkeypatch.setattr("execsvc.cli.main", lambda *a, **k: called.append(a))
    monkeypatch.setattr("execsvc.cli.build_parser", lambda *a, **k: called.append(a))

    with pytest.raises(ConfigError, match=f"strategy='{spec}': not a strategy class"):
        load_strategy(spec, {})
    assert called == []


def test_parameters_the_strategy_refuses_are_a_config_error():
    with pytest.raises(ConfigError, match=r"bad parameters \{'fast': -5\}: fast=-5"):
        load_strategy(STRATEGY, {"fast": -5})


def test_replay_with_parameters_the_strategy_refuses_exits_2(tmp_path, capsys):
    code = main([*REPLAY, "--param", "fast=-5", "--journal-dir", str(tmp_path / "j")])

    err = capsys.readouterr().err
    assert code == 2
    assert "strategy='execsvc.strategies.samples:MovingAverageCross': bad parameters" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", ["--report", "--html"])
def test_a_report_into_a_missing_directory_is_refused_before_the_replay(tmp_path, capsys, flag):
    target = tmp_path / "no" / "such" / "r.out"

    code = main([*REPLAY, flag, str(target), "--journal-dir", str(tmp_path / "j")])

    assert code == 2
    assert f"{flag} '{target}': its directory does not exist" in capsys.readouterr().err
    assert not (tmp_path / "j").exists()  # nothing replayed, nothing journaled


def test_a_journal_dir_that_is_a_file_exits_2(tmp_path, capsys):
    blocker = tmp_path / "journal"
    blocker.write_text("a file")

    code = main([*REPLAY, "--journal-dir", str(blocker)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"error: journal directory {blocker}: cannot create: File exists" in err
    assert "Traceback" not in err


def test_dry_run_on_a_paper_run_is_refused_before_anything_starts(tmp_path, capsys):
    """``--dry-run`` with ``--mode paper`` was ignored without a word: the user meant a rehearsal of
    the live path and got paper fills."""
    journal = tmp_path / "journal"
    code = main(["run", "--config", CONFIG, "--mode", "paper", "--dry-run", "--journal-dir", str(journal),
                 "--strategy", "execsvc.strategies.samples:MovingAverageCross", "--exit-at-end"])  # fmt: skip

    assert code == 2
    assert "error: --dry-run goes with --mode live (mode here: paper)" in capsys.readouterr().err
    assert not journal.exists()


def test_the_command_lines_log_redacts_a_registered_secret(capsys):
    """``record`` logs through the CLI's stderr handler: the access token it registers never shows."""
    secret = "tok-cli-SECRET-7f6e5d"
    logging.root.handlers = []  # as in a fresh process (pytest's own handlers are back after the test)
    setup_logging("INFO")
    register_secret(secret)
    logging.getLogger("execsvc.cli").warning("connecting with %s", secret)
    try:
        raise RuntimeError(f"refused: {secret}")
    except RuntimeError:
        logging.getLogger("execsvc.cli").exception("failed")
    err = capsys.readouterr().err
    assert "connecting with ***" in err and "refused: ***" in err
    assert secret not in err


@pytest.mark.parametrize("level", ["LOUD", "basic_format", "root", "5"])
def test_a_log_level_that_is_not_one_of_the_documented_four_is_refused(capsys, level):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--log-level", level, "state"])

    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --log-level: invalid choice: '{level.upper()}'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warning", "ERROR"])
def test_a_documented_log_level_is_taken_in_any_case(level):
    args = build_parser().parse_args(["--log-level", level, "state"])
    assert args.log_level == level.upper()


@pytest.mark.parametrize("port", ["-1", "65536", "70000", "abc", "80.5"])
@pytest.mark.parametrize("command", [["run", "--config", CONFIG, "--control-port"], ["kite-sim", "--port"]])
def test_a_port_that_is_not_a_tcp_port_is_refused(capsys, command, port):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args([*command, port])

    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {command[-1]}: '{port}'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["0", "8080", "65535"])
def test_a_tcp_port_is_taken(port):
    assert build_parser().parse_args(["kite-sim", "--port", port]).port == int(port)
    assert build_parser().parse_args(["run", "--config", CONFIG, "--control-port", port]).control_port == int(
        port
    )


def test_a_simulator_host_that_is_not_this_machines_names_the_host_not_the_port(capsys):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine
    code = main(["kite-sim", "--host", "192.0.2.1", "--port", "0"])

    assert code == 2
    err = capsys.readouterr().err
    assert "192.0.2.1" in err
    assert "not an address of this machine: choose another --host" in err
    assert "another one running" not in err


def test_kite_sim_refuses_a_holidays_file_without_the_session_calendar(capsys):
    # the holidays are the calendar's: without it they were read by nothing, silently
    code = main(["kite-sim", "--holidays-file", "my-holidays.yaml"])

    assert code == 2
    err = capsys.readouterr().err
    assert "--holidays-file 'my-holidays.yaml'" in err
    assert "--session-calendar" in err
    assert "Traceback" not in err
