"""Reading and verifying journal files.

A file is trusted record by record: each line must parse, carry the next ``seq``, link to the
previous record's hash and hash to its own ``h``. The one failure that is forgiven is a torn last
line (no trailing newline): the mark of a crash in the middle of a write. It is reported and left
out; anything else raises.

A record that parses is also checked for what would fold into a wrong state rather than fail a
check of its own: a ``journal_opened`` naming another day than the file's name (a file copied or
renamed from another day would bring that day's trades, losses and streaks into this one); a
journal of a newer version (an event type unknown here, or ``journal_opened`` with a higher
``version``: its records may mean what this code cannot fold); and a fill that is not a positive
quantity of a BUY or a SELL (the writer never journals one: see ``PaperExecutor.book_fill``). A
file that cannot be read at all (a directory, no permission) is a ``JournalError`` too, naming the
file and the reason.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from execsvc.errors import JournalChainError, JournalCorruptError, JournalError
from execsvc.events import Fill, JournalOpened
from execsvc.journal.codec import GENESIS, Record, decode_record, hash_of
from execsvc.validation import MAX_QTY

log = logging.getLogger("execsvc.journal")

JOURNAL_VERSION = 1  # the newest ``JournalOpened.version`` this code folds
_NEWER = ": an event type this version does not know (a journal of a newer execsvc?)"
_DAY_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _misfit(record: Record, file_day: str | None) -> str | None:
    """Why a parsed record must not be folded, or None when it may be."""
    event = record.ev
    if type(event) is JournalOpened:
        if file_day is not None and event.day != file_day:
            return f"journal_opened day={event.day!r}: not the file's day {file_day!r} (another day's file?)"
        if event.version > JOURNAL_VERSION:
            return f"journal_opened version={event.version!r}: newer than this execsvc ({JOURNAL_VERSION})"
    elif type(event) is Fill:
        if event.side not in ("BUY", "SELL"):
            return f"fill {event.fill_id!r}: side={event.side!r}: must be BUY or SELL"
        if not 0 < event.qty <= MAX_QTY:
            return f"fill {event.fill_id!r}: qty={event.qty!r}: must be from 1 to {MAX_QTY:,}"
    return None


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
        JournalError: the file cannot be read (a directory, permission denied).
    """
    path = Path(path)
    try:
        return _read(path, verify)
    except OSError as exc:
        raise JournalError(f"{path}: cannot read journal: {exc.strerror or exc}") from exc


def _read(path: Path, verify: bool) -> ReadResult:
    result = ReadResult()
    if not path.exists():
        return result
    if not path.is_file():
        raise JournalError(f"{path}: cannot read journal: not a regular file")
    size = os.path.getsize(path)
    file_day = path.stem if path.suffix == ".jsonl" and _DAY_NAME.fullmatch(path.stem) else None
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
            hint = _NEWER if "$.ev.type" in str(exc) else ""
            raise JournalCorruptError(f"{where}: unreadable record: {exc}{hint}") from exc
        except UnicodeDecodeError as exc:
            raise JournalCorruptError(f"{where}: unreadable record: not UTF-8 ({exc.reason})") from exc
        except RecursionError as exc:  # a record nested deeper than the decoder goes from here
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
        misfit = _misfit(record, file_day)
        if misfit is not None:
            raise JournalCorruptError(f"{where}: {misfit}")
        prev = record.h
        expected_seq = record.seq + 1
        result.records.append(record)
        result.good_bytes = offset + len(line)
    result.last_hash = prev
    return result


def read_since(path: str | Path, since: int, limit: int) -> list[Record]:
    """Up to ``limit`` records with ``seq > since``: a quick look at a file being written (no checks).

    A record's ``seq`` is its line's index in the file (the writer numbers them so, and start-up
    checks it), so the lines before are skipped unread: a poll of the tail costs the tail, not the
    whole day. A last line not yet complete (being written, or torn) is left out.

    Raises:
        JournalCorruptError: a complete line that does not parse.
        JournalError: the file cannot be read.
    """
    path = Path(path)
    records: list[Record] = []
    try:
        if not path.exists():
            return records
        for line_no, _, line in iter_lines(path):
            if line_no <= since + 1 or not line.endswith(b"\n"):
                continue  # an earlier record, or the incomplete last line
            try:
                record = decode_record(line)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                raise JournalCorruptError(f"{path}: line {line_no}: unreadable record: {exc}") from exc
            if record.seq > since:
                records.append(record)
                if len(records) >= limit:
                    break
    except OSError as exc:
        raise JournalError(f"{path}: cannot read journal: {exc.strerror or exc}") from exc
    return records


def journal_path(directory: str | Path, day: str) -> Path:
    """The file of a trading day: ``<dir>/YYYY-MM-DD.jsonl``."""
    return Path(directory) / f"{day}.jsonl"


def journal_days(directory: str | Path) -> list[str]:
    """The days that have a journal file, oldest first."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("????-??-??.jsonl"))
