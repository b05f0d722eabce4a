"""A new user's plausible mistakes on the command line: each is one line naming what to do, exit 2,
never a traceback. Run as a user runs them: ``python -m execsvc`` in a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
NO_TOKEN_ENV = "EXECSVC_TEST_NO_SUCH_TOKEN_VAR"


def write_config(tmp: Path, **sections: Any) -> Path:
    """A config whose every path is in ``tmp``, with no Kite access token anywhere."""
    data: dict[str, Any] = {
        "journal": {"dir": str(tmp / "journal")},
        "market": {"instruments_file": str(REPO / "data" / "sample" / "instruments.csv")},
        "charges": {"rates_file": str(REPO / "configs" / "charges.yaml")},
        "session": {"holidays_file": str(REPO / "configs" / "holidays-2026.yaml")},
        "daemon": {"logs_dir": str(tmp / "logs"), "state_dir": str(tmp / "state")},
        "control": {"port": 0},
        "kite": {
            "api_key": "abcdef",
            "access_token_env": NO_TOKEN_ENV,
            "access_token_file": str(tmp / "no-token"),
            "root": "http://127.0.0.1:9",
            "ws_root": "ws://127.0.0.1:9",
        },
    }
    data.update(sections)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def execsvc(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 50
) -> subprocess.CompletedProcess[str]:
    """``python -m execsvc ARGS`` with ``stdin`` (closed at its end) and ``env`` over the environment
    less the Kite API secret."""
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    environ.pop("KITE_API_SECRET", None)
    environ.pop(NO_TOKEN_ENV, None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "execsvc", *args],
        input=stdin, capture_output=True, text=True, cwd=REPO, env=environ, timeout=timeout,
    )  # fmt: skip


def test_a_paper_daemon_without_tick_files_and_no_kite_token_says_why_before_starting(tmp_path):
    """Paper without --ticks (or feed.ticks) trades on Kite's live ticks: with no access token it
    logged an ExceptionGroup traceback from the feed task after the service had opened a journal,
    and exited 1. The original design's `python -m scripts.run_day --mode paper` does exactly this."""
    done = execsvc("run", "--config", str(write_config(tmp_path)), "--mode", "paper", "--exit-at-end")

    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "no Kite access token" in done.stderr and "--ticks" in done.stderr
    assert not list((tmp_path / "journal").glob("*.jsonl"))  # refused before anything started


def test_login_with_no_request_token_to_read_says_how_to_give_one(tmp_path):
    """The prompt met the end of its input (no terminal, or Ctrl-D): EOFError with a traceback."""
    done = execsvc("login", "--config", str(write_config(tmp_path)), env={"KITE_API_SECRET": "s"})

    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "--request-token" in done.stderr


def test_login_without_the_api_secret_says_so_before_asking_for_a_request_token(tmp_path):
    """A request token works once: asking for it, then finding no secret to exchange it with,
    wasted the user's login."""
    done = execsvc("login", "--config", str(write_config(tmp_path)), stdin="abc\n")

    assert done.returncode == 2, done.stderr[-2000:]
    assert "KITE_API_SECRET" in done.stderr and "Traceback" not in done.stderr
    assert "request_token" not in done.stdout


def test_login_that_cannot_reach_kite_says_so(tmp_path):
    """Offline (or a wrong kite.root) the official client's ConnectionError came out as a traceback."""
    done = execsvc(
        "login", "--config", str(write_config(tmp_path)), "--request-token", "abc",
        env={"KITE_API_SECRET": "s"},
    )  # fmt: skip

    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "login failed" in done.stderr and "http://127.0.0.1:9" in done.stderr
    assert not (tmp_path / "no-token").exists()


def test_a_port_in_use_is_one_line_for_the_daemon_and_the_simulator(tmp_path):
    """A second `make run`, or a second simulator, while the first still listens: an OSError traceback."""
    ticks = str(REPO / "data" / "sample" / "ticks.jsonl.gz")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        config = str(write_config(tmp_path))
        run = execsvc("run", "--config", config, "--ticks", ticks, "--control-port", port)
        sim = execsvc("kite-sim", "--port", port, timeout=20)

    for done in (run, sim):
        assert done.returncode == 2, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert f"127.0.0.1:{port}" in done.stderr or f"127.0.0.1', {port}" in done.stderr
    assert "--control-port" in run.stderr and "--port" in sim.stderr


def test_the_simulator_refuses_a_tick_file_it_cannot_read(tmp_path):
    """`kite-sim --ticks` with a wrong path served on without a tick, saying nothing until it was stopped."""
    done = execsvc("kite-sim", "--port", "0", "--ticks", str(tmp_path / "no-such-ticks.jsonl.gz"), timeout=20)

    assert done.returncode == 2, done.stderr[-2000:]
    assert "no-such-ticks.jsonl.gz" in done.stderr and "Traceback" not in done.stderr
