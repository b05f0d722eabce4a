"""Hostile journal files at start-up and in ``execsvc journal verify`` / ``execsvc state``.

Each file here is one a crash cannot leave but an edit, a copy or a newer version can; start-up
must stop with the file, the line and what is wrong (never fold it, never a raw traceback) and the
CLI tools must exit 1 with the same message.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.cli import main
from execsvc.clock import ReplayClock
from execsvc.errors import JournalCorruptError, JournalError
from execsvc.journal import reader
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick

DAY_NAME = DAY.isoformat()
Records = list[dict[str, Any]]


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


def chain(records: Records) -> bytes:
    """Lines with every ``prev`` and ``h`` recomputed: what an edit made by hand, with care, looks like."""
    out, prev = [], "0" * 64
    for record in records:
        body = {k: v for k, v in record.items() if k != "h"} | {"prev": prev}
        data = json.dumps(body, separators=(",", ":")).encode()
        prev = hashlib.sha256(data).hexdigest()
        out.append(data[:-1] + b',"h":"%s"}\n' % prev.encode())
    return b"".join(out)


@pytest.fixture
async def traded(journal_dir: Path) -> Records:
    """A day with one filled BUY of 10: its records, parsed."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        result = await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10, intent_id="b1")
        )
        assert result.status == "FILLED"
    path = journal_dir / f"{DAY_NAME}.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def first_of(records: Records, kind: str) -> int:
    return next(i for i, r in enumerate(records) if r["ev"]["type"] == kind)


def with_event(records: Records, kind: str, **fields: Any) -> bytes:
    changed = [dict(r) for r in records]
    i = first_of(changed, kind)
    changed[i]["ev"] = {**changed[i]["ev"], **fields}
    return chain(changed)


DEEP = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
HOSTILE: dict[str, tuple[Callable[[Records], bytes], str]] = {
    "fill of zero": (lambda rs: with_event(rs, "fill", qty=0), "qty=0"),
    "negative fill": (lambda rs: with_event(rs, "fill", qty=-10), "qty=-10"),
    "absurd fill": (lambda rs: with_event(rs, "fill", qty=10**30), f"qty={10**30}"),
    "fill of no side": (lambda rs: with_event(rs, "fill", side="HOLD"), "side='HOLD'"),
    "another day's file": (
        lambda rs: with_event(rs, "journal_opened", day="2026-11-19"),
        "day='2026-11-19': not the file's day '2026-11-20'",
    ),
    "a newer version": (lambda rs: with_event(rs, "journal_opened", version=2), "version=2"),
    "an unknown event": (
        lambda rs: chain([*rs, {**rs[-1], "seq": len(rs), "ev": {"type": "future_event"}}]),
        "a journal of a newer execsvc",
    ),
    "not UTF-8": (
        lambda rs: chain(rs).replace(b'"symbol":"NSE:INFY"', b'"symbol":"NSE:\xff\xfeFY"', 1),
        "not UTF-8",
    ),
    "nested past the decoder": (  # RecursionError escaped the reader
        lambda rs: chain(rs).replace(b'"symbol":"NSE:INFY"', b'"symbol":"NSE:INFY","metadata":' + DEEP, 1),
        "unreadable record: maximum recursion depth exceeded",
    ),
}


def write(journal_dir: Path, data: bytes) -> Path:
    journal_dir.mkdir(parents=True, exist_ok=True)
    path = journal_dir / f"{DAY_NAME}.jsonl"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_start_up_stops_naming_file_line_and_fault(journal_dir, traded, name):
    make, expected = HOSTILE[name]
    path = write(journal_dir, make(traded))

    with pytest.raises(JournalCorruptError) as caught:
        async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 9 * SECOND)):
            pass

    message = str(caught.value)
    assert message.startswith(f"{path}: line ")
    assert expected in message


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("command", ["verify", "state"])
def test_cli_tools_exit_1_with_the_message(journal_dir, traded, capsys, name, command):
    make, expected = HOSTILE[name]
    path = write(journal_dir, make(traded))
    argv = ["journal", "verify", "--dir", str(journal_dir), DAY_NAME]
    if command == "state":
        argv = ["state", "--dir", str(journal_dir), "--day", DAY_NAME, "--json"]

    code = main(argv)

    err = capsys.readouterr().err
    assert code == 1
    assert f"FAILED: {path}: line " in err
    assert expected in err


async def test_the_same_records_rechained_still_start(journal_dir, traded):
    """The helper itself: an unchanged re-chained file restores exactly (the cases above are the edits)."""
    write(journal_dir, chain(traded))
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 9 * SECOND)) as svc:
        assert [p.net_qty for p in svc.positions()] == [10]


async def test_a_directory_in_place_of_the_day_file(journal_dir, capsys):
    (journal_dir / f"{DAY_NAME}.jsonl").mkdir(parents=True)

    with pytest.raises(JournalError, match="cannot read journal: not a regular file"):
        async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)):
            pass
    assert main(["journal", "verify", "--dir", str(journal_dir), DAY_NAME]) == 1
    assert main(["state", "--dir", str(journal_dir)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("cannot read journal: not a regular file") == 2


def test_a_file_that_cannot_be_read(journal_dir, monkeypatch, capsys):
    path = write(journal_dir, b"")

    def denied(_path: Path) -> Any:
        raise PermissionError(13, "Permission denied", str(_path))

    monkeypatch.setattr(reader, "iter_lines", denied)

    with pytest.raises(JournalError, match="cannot read journal: Permission denied"):
        reader.read_journal(path)
    assert main(["journal", "verify", str(path)]) == 1
    assert f"{path}: cannot read journal: Permission denied" in capsys.readouterr().err


async def test_a_file_where_the_journal_directory_should_be(tmp_path):
    blocker = tmp_path / "journal"
    blocker.write_text("not a directory")

    with pytest.raises(JournalError, match=f"journal directory {blocker}: cannot create"):
        async with ExecutionService(make_config(blocker), clock=ReplayClock(OPEN_NS)):
            pass
