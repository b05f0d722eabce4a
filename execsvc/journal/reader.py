"""Reading and verifying journal files.

A file is trusted record by record: each line must parse, carry the next ``seq``, link to the
previous record's hash and hash to its own ``h``. The one failure that is forgiven is a torn last
line (no trailing newline): the mark of a crash in the middle of a write. It is reported and left
out; anything else raises.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from execsvc.errors import JournalChainError, JournalCorruptError
from execsvc.journal.codec import GENESIS, Record, decode_record, hash_of

log = logging.getLogger("execsvc.journal")


@dataclass
class ReadResult:
    """What reading a journal file found.

    Attributes:
        records: every trusted record, in order.
        last_hash: the ``h`` of the last trusted record (``GENESIS`` for an empty file).
        good_bytes: the length of the trusted prefix of the file.
        torn_tail: the bytes of a torn last line that were left out, if any.
    """

    records: list[Record] = field(default_factory=list)
    last_hash: str = GENESIS
    good_bytes: int = 0
    torn_tail: bytes = b""


def iter_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line_no, offset, line)`` for each line of a file, newline included when present."""
    offset = 0
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            yield line_no, offset, line
            offset += len(line)


def read_journal(path: str | Path, *, verify: bool = True) -> ReadResult:
    """Read and check a journal file.

    Args:
        path: the day's ``YYYY-MM-DD.jsonl``.
        verify: check hashes and links (always on at start-up; off only for quick looks).

    Returns:
        The trusted records and where they end.

    Raises:
        JournalCorruptError: a line that does not parse and is not the torn last line.
        JournalChainError: a bad ``seq``, ``prev`` link or hash (edited, dropped or reordered).
    """
    path = Path(path)
    result = ReadResult()
    if not path.exists():
        return result
    size = os.path.getsize(path)
    expected_seq = 0
    prev = GENESIS
    for line_no, offset, line in iter_lines(path):
        where = f"{path}: line {line_no}"
        if not line.endswith(b"\n") and offset + len(line) == size:
            result.torn_tail = line
            log.warning("%s: torn last line (%d bytes) left out: a crash during a write", where, len(line))
            break
        try:
            record = decode_record(line)
        except msgspec.DecodeError as exc:
            raise JournalCorruptError(f"{where}: unreadable record: {exc}") from exc
        if verify:
            if record.seq != expected_seq:
                raise JournalChainError(
                    f"{where}: seq {record.seq}, expected {expected_seq}: a record was dropped or reordered"
                )
            if record.prev != prev:
                raise JournalChainError(f"{where}: prev link does not match record {expected_seq - 1}'s hash")
            actual = hash_of(line)
            if actual != record.h:
                raise JournalChainError(f"{where}: hash mismatch: the record was edited")
        prev = record.h
        expected_seq = record.seq + 1
        result.records.append(record)
        result.good_bytes = offset + len(line)
    result.last_hash = prev
    return result


def journal_path(directory: str | Path, day: str) -> Path:
    """The file of a trading day: ``<dir>/YYYY-MM-DD.jsonl``."""
    return Path(directory) / f"{day}.jsonl"


def journal_days(directory: str | Path) -> list[str]:
    """The days that have a journal file, oldest first."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("????-??-??.jsonl"))
