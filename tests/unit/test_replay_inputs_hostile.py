"""Hostile replay inputs found by a review of the replay path: tick timestamps no calendar holds,
an empty CSV cell, config values that would print without bound, and the CLI's ``record``,
``--overwrite`` and ``--param``.

Each must be a one-line error naming the field (or line) and the value, exit 2, no traceback, and
nothing placed or destroyed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from execsvc.cli import main
from execsvc.config import load_config
from execsvc.errors import ConfigError, TickDataError
from execsvc.events import JournalOpened
from execsvc.journal.store import JournalWriter
from execsvc.market.files import CSV_COLUMNS, read_ticks
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import Tick

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "dev.yaml")
STRATEGY = "execsvc.strategies.samples:MovingAverageCross"
T0 = 1_795_146_301 * 10**9  # 2026-11-20 09:15:01 IST


@pytest.fixture(autouse=True)
def own_log_handlers() -> Iterator[None]:
    """``main`` adds a stderr handler (basicConfig); keep it from outliving the test's capture."""
    saved = logging.root.handlers[:]
    logging.root.handlers = []
    try:
        yield
    finally:
        logging.root.handlers = saved


def _good_ticks(path: Path, n: int = 5) -> str:
    write_ticks(path, [Tick("NSE:INFY", 1500.0 + i, 408065, T0 + i * 10**9) for i in range(n)])
    return str(path)


def _csv_row(**cells: str) -> str:
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(symbol="NSE:INFY", ts_event=str(T0), last_price="1500.0")
    row.update(cells)
    return ",".join(row[c] for c in CSV_COLUMNS)


# -- tick timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize("ts", [10**21, 10**30, -(10**20)])
def test_a_json_timestamp_no_calendar_holds_is_a_bad_line(tmp_path, ts):
    path = tmp_path / "ticks.jsonl"
    good = b'{"type":"tick","symbol":"NSE:INFY","last_price":1500.0,"ts_event":%d}\n' % T0
    path.write_bytes(
        good + b'{"type":"tick","symbol":"NSE:INFY","last_price":1500.0,"ts_event":%d}\n' % ts + good
    )

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    skipped: list[TickDataError] = []
    ticks = list(read_ticks(path, on_bad="skip", on_skip=skipped.append))

    assert info.value.position == "line 2" and f"ts_event={ts}" in info.value.reason
    assert [t.ts_event for t in ticks] == [T0, T0]
    assert [e.position for e in skipped] == ["line 2"]


def test_a_csv_timestamp_no_calendar_holds_is_a_bad_line(tmp_path):
    path = tmp_path / "ticks.csv"
    rows = [",".join(CSV_COLUMNS), _csv_row(), _csv_row(ts_event=str(10**25)), _csv_row()]
    path.write_text("\n".join(rows) + "\n")

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))

    assert info.value.position == "line 3" and f"ts_event={10**25}" in info.value.reason


def test_a_replay_of_a_tick_beyond_any_date_exits_2_naming_the_line(tmp_path, capsys):
    path = tmp_path / "ticks.jsonl"
    _good_ticks(path)
    with path.open("ab") as f:
        f.write(b'{"type":"tick","symbol":"NSE:INFY","last_price":1500.0,"ts_event":%d}\n' % 10**21)

    code = main(
        [
            "replay",
            "--config",
            CONFIG,
            "--ticks",
            str(path),
            "--strategy",
            STRATEGY,
            "--journal-dir",
            str(tmp_path / "j"),
        ]
    )

    err = capsys.readouterr().err
    assert code == 2  # was: OverflowError: date value out of range, a traceback and exit 1
    assert f"{path}: line 6" in err and "ts_event=" in err
    assert "Traceback" not in err


# -- CSV cells ------------------------------------------------------------------------------------


def test_an_empty_last_price_cell_names_its_column(tmp_path):
    path = tmp_path / "ticks.csv"
    path.write_text("\n".join([",".join(CSV_COLUMNS), _csv_row(), _csv_row(last_price="")]) + "\n")

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))

    assert info.value.position == "line 3"
    assert "last_price" in info.value.reason  # was: "bad row: could not convert string to float: ''"


# -- config values in errors ----------------------------------------------------------------------

_ALIAS_BOMB = b"""execution:
  seed: &g [&f [&e [&d [&c [&b [&a [x, x, x, x, x, x, x, x, x], *a, *a, *a, *a, *a, *a, *a, *a],
         *b, *b, *b, *b, *b, *b, *b, *b], *c, *c, *c, *c, *c, *c, *c, *c], *d, *d, *d, *d, *d, *d, *d, *d],
         *e, *e, *e, *e, *e, *e, *e, *e], *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_a_value_built_from_aliases_is_refused_with_a_short_message(tmp_path):
    # 250 bytes of YAML whose value is 9**7 strings once its aliases are expanded: the message
    # printed all of them (35 MB here; one more level is 300 MB and seconds, two are out of memory,
    # and a SIGHUP reload logs that message from inside the daemon).
    path = tmp_path / "bomb.yaml"
    path.write_bytes(_ALIAS_BOMB)

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert "execution.seed=" in message and "Expected `int`, got `array`" in message
    assert len(message) < 1000, f"{len(message):,} characters"


def test_a_key_that_is_not_a_string_names_its_mapping_not_the_whole_config(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("kite:\n  api_key: abcdef\nexecution:\n  circuit_breakers:\n    yes: 1\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert "execution.circuit_breakers" in message and "True" in message
    # was: "<root>={'kite': {'api_key': 'abcdef'}, 'execution': ...}: Expected `str` - at `key` in ..."
    assert "<root>" not in message and "abcdef" not in message


# -- replay --overwrite and several files ---------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        ["--strategy", "no_such_module:Nope"],
        ["--ticks", "MISSING"],
    ],
)
def test_overwrite_keeps_the_old_journal_when_the_new_replay_cannot_start(tmp_path, capsys, bad):
    ticks = _good_ticks(tmp_path / "ticks.jsonl")
    journal = tmp_path / "j"
    args = ["replay", "--config", CONFIG, "--journal-dir", str(journal)]
    assert main([*args, "--ticks", ticks, "--strategy", STRATEGY]) == 0
    before = {p.name: p.read_bytes() for p in journal.glob("*.jsonl")}
    assert before

    swapped = [str(tmp_path / "missing.jsonl") if b == "MISSING" else b for b in bad]
    rest = ["--ticks", ticks] if swapped[0] != "--ticks" else ["--strategy", STRATEGY]
    code = main([*args, "--overwrite", *swapped, *rest])

    assert code == 2
    assert {p.name: p.read_bytes() for p in journal.glob("*.jsonl")} == before  # was: deleted


def test_a_missing_later_tick_file_is_refused_before_anything_is_placed(tmp_path, capsys):
    ticks = _good_ticks(tmp_path / "day.jsonl", 400)
    missing = str(tmp_path / "typo.jsonl")

    code = main(
        [
            "replay",
            "--config",
            CONFIG,
            "--ticks",
            ticks,
            missing,
            "--strategy",
            STRATEGY,
            "--param",
            "fast=2",
            "--param",
            "slow=3",
            "--journal-dir",
            str(tmp_path / "j"),
        ]
    )

    assert code == 2
    assert "typo.jsonl" in capsys.readouterr().err
    assert not list((tmp_path / "j").glob("*.jsonl"))  # was: the first file replayed and traded


# -- replay --param -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_param_that_is_not_json_is_refused_not_written_into_the_report(tmp_path, capsys, value):
    ticks = _good_ticks(tmp_path / "ticks.jsonl")
    report = tmp_path / "r.json"

    code = main(
        [
            "replay",
            "--config",
            CONFIG,
            "--ticks",
            ticks,
            "--strategy",
            STRATEGY,
            "--param",
            f"allow_short={value}",
            "--journal-dir",
            str(tmp_path / "j"),
            "--report",
            str(report),
        ]
    )

    if code == 0:  # taken: then the report must still be JSON
        json.loads(report.read_text(), parse_constant=lambda c: pytest.fail(f"report.json holds {c}"))
    else:
        assert code == 2 and "allow_short" in capsys.readouterr().err


# -- record ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--tokens", "abc", "--duration", "0.01"], "--tokens"),
        (["--tokens", "408065,0", "--duration", "0.01"], "--tokens"),
        (["--tokens", str(2**40), "--duration", "0.01"], "--tokens"),
        (["--tokens", "408065", "--duration", "nan"], "--duration"),
        (["--tokens", "408065", "--duration", "-1"], "--duration"),
        (["--tokens", "408065", "--duration", "0"], "--duration"),
        (["--tokens", " , ", "--duration", "0.01"], "--tokens"),
        (["--tokens", "408065", "--mode", "snapquote", "--duration", "0.01"], "--mode"),
    ],
)
def test_record_refuses_bad_arguments_with_exit_2(tmp_path, capsys, monkeypatch, extra, named):
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "not-a-real-token-123")
    config = tmp_path / "c.yaml"
    config.write_text("kite:\n  api_key: abcdef\n  ws_root: ws://127.0.0.1:9\n")
    out = tmp_path / "rec.kite"

    try:
        code = main(["record", "--config", str(config), "--out", str(out), *extra])
    except SystemExit as exc:  # argparse's refusal
        code = exc.code

    err = capsys.readouterr().err
    assert code == 2, err[-300:]
    assert named in err and "Traceback" not in err
    assert not out.exists()


def test_record_into_a_missing_directory_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "not-a-real-token-123")
    config = tmp_path / "c.yaml"
    config.write_text("kite:\n  api_key: abcdef\n  ws_root: ws://127.0.0.1:9\n")
    out = tmp_path / "no" / "such" / "rec.kite"

    code = main(
        ["record", "--config", str(config), "--out", str(out), "--tokens", "408065", "--duration", "0.01"]
    )

    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("rec.txt", "unknown tick file suffix"),
        ("rec.kite", "cannot be written"),
        ("rec.csv.gz", "cannot be written"),
    ],
)
def test_record_into_a_file_it_cannot_write_exits_2_naming_out(tmp_path, capsys, monkeypatch, name, why):
    """An --out that is a directory (or otherwise not writable) ended in a traceback and exit 1; an
    unknown suffix was "bad tick data: ... offset 0", naming no option."""
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "not-a-real-token-123")
    config = tmp_path / "c.yaml"
    config.write_text("kite:\n  api_key: abcdef\n  ws_root: ws://127.0.0.1:9\n")
    out = tmp_path / name
    if why == "cannot be written":
        out.mkdir()

    code = main(
        ["record", "--config", str(config), "--out", str(out), "--tokens", "408065", "--duration", "5"]
    )

    err = capsys.readouterr().err
    assert code == 2 and f"--out {str(out)!r}: {why}" in err and "Traceback" not in err


# -- state ----------------------------------------------------------------------------------------


def test_state_reports_the_peak_equity_of_the_days_own_capital(tmp_path, capsys):
    # The engine measures drawdown from capital_rupees + the day's best realized net; `state`
    # folded the same journal from a hard-coded 500,000 whatever the day's capital was.
    config = tmp_path / "c.yaml"
    config.write_text(
        Path(CONFIG).read_text().replace("capital_rupees: 500000.0", "capital_rupees: 100000.0")
    )
    ticks = _good_ticks(tmp_path / "ticks.jsonl")
    journal = tmp_path / "j"
    assert (
        main(
            [
                "replay",
                "--config",
                str(config),
                "--ticks",
                ticks,
                "--strategy",
                STRATEGY,
                "--journal-dir",
                str(journal),
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert main(["state", "--dir", str(journal), "--json"]) == 0

    breakers = json.loads(capsys.readouterr().out)["breakers"]
    assert breakers["realized_net"] == 0.0
    assert breakers["peak_equity"] == 100_000.0  # was 500,000.0


def test_strategy_parameters_built_from_aliases_are_refused_with_a_short_message(tmp_path):
    from execsvc.strategies.base import load_strategy

    path = tmp_path / "params.yaml"
    bomb = _ALIAS_BOMB.decode().replace("execution:\n  seed:", "      junk:")
    path.write_text(f"strategies:\n  - spec: execsvc.strategies.samples:NoOp\n    params:\n{bomb}")
    spec = load_config(path).strategies[0]

    with pytest.raises(ConfigError) as info:
        load_strategy(spec.spec, spec.params)

    message = str(info.value)
    assert "bad parameters" in message and "junk" in message
    assert len(message) < 1000, f"{len(message):,} characters"  # was 25 MB


@pytest.mark.parametrize("mode", ["live", "dry-run"])
def test_overwrite_never_deletes_a_live_or_dry_run_day(tmp_path, capsys, mode):
    """``--journal-dir`` pointed at the live journal by mistake, with ``--overwrite``: the live days
    (the broker's orders, the idempotency of every intent) were deleted with the replay's own."""
    ticks = _good_ticks(tmp_path / "ticks.jsonl")
    journal = tmp_path / "j"
    args = ["replay", "--config", CONFIG, "--journal-dir", str(journal), "--ticks", ticks]
    assert main([*args, "--strategy", STRATEGY]) == 0
    replayed = next(journal.glob("*.jsonl"))
    live_day = journal / "2026-11-19.jsonl"
    writer = JournalWriter(journal, "always")
    writer.open("2026-11-19")
    writer.append(JournalOpened(day="2026-11-19", mode="live", dry_run=mode == "dry-run"), 0)
    writer.close()
    before = {p.name: p.read_bytes() for p in journal.glob("*.jsonl")}

    code = main([*args, "--overwrite", "--strategy", STRATEGY])

    assert code == 2
    assert {p.name: p.read_bytes() for p in journal.glob("*.jsonl")} == before
    err = capsys.readouterr().err
    assert f"holds journal days a replay did not write (2026-11-19 ({mode}))" in err
    assert replayed.exists() and live_day.exists()
