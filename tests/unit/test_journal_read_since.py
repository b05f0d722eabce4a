"""``read_since``: the records after a seq, read without decoding the lines before it.

``GET /journal?since=N`` decoded the whole day's file for every poll (2.3 s of CPU, holding the
GIL, on a day of 100,000 intents): a dashboard tailing the journal slowed trading down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.errors import JournalCorruptError
from execsvc.events import TradingHalted
from execsvc.journal.codec import GENESIS, encode_record
from execsvc.journal.reader import read_journal, read_since

TS = 1_763_610_300_000_000_000


def write_day(path: Path, count: int) -> list[bytes]:
    lines, prev = [], GENESIS
    for seq in range(count):
        line, prev = encode_record(seq, TS + seq, prev, TradingHalted(reason=f"r{seq}"))
        lines.append(line)
    path.write_bytes(b"".join(lines))
    return lines


@pytest.mark.parametrize(("since", "limit"), [(-1, 1000), (-1, 3), (4, 1000), (4, 2), (9, 10), (50, 10)])
def test_the_same_records_as_a_full_read(tmp_path, since, limit):
    path = tmp_path / "2025-11-20.jsonl"
    write_day(path, 10)
    everything = read_journal(path).records
    assert read_since(path, since, limit) == [r for r in everything if r.seq > since][:limit]


def test_the_lines_before_since_are_not_read(tmp_path):
    path = tmp_path / "2025-11-20.jsonl"
    lines = write_day(path, 10)
    lines[2] = b'{"garbage\n'  # decoding it would fail: it is skipped unread
    path.write_bytes(b"".join(lines))
    assert [r.seq for r in read_since(path, 4, 100)] == [5, 6, 7, 8, 9]
    with pytest.raises(JournalCorruptError, match="line 3: unreadable record"):
        read_since(path, 1, 100)


def test_a_last_line_being_written_is_left_out(tmp_path):
    path = tmp_path / "2025-11-20.jsonl"
    lines = write_day(path, 5)
    path.write_bytes(b"".join(lines[:4]) + lines[4][:30])
    assert [r.seq for r in read_since(path, -1, 100)] == [0, 1, 2, 3]


def test_a_missing_file_has_no_records(tmp_path):
    assert read_since(tmp_path / "2025-11-21.jsonl", -1, 10) == []
