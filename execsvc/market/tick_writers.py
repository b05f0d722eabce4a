"""Tick file writers: JSON lines, flat CSV and raw Kite frames, each optionally gzipped.

The formats are :mod:`execsvc.market.files`' (which reads them); the format follows the suffix.
A writer holds one tick at a time. Gzip output is reproducible: no file name and mtime 0 in the
header.

Resource handling:
    Writers are context managers; ``close()`` flushes and closes the gzip stream and the file.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, cast

import msgspec

from execsvc.market.csv_rows import CSV_COLUMNS, tick_to_row
from execsvc.market.files import RECORD, tick_format
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder, encode_frame
from execsvc.market.ticks import Tick

__all__ = ["CsvTickWriter", "FrameTickWriter", "JsonlTickWriter", "TickWriter", "open_writer", "write_ticks"]

_ENCODER = msgspec.json.Encoder()


class TickWriter:
    """Writes ticks to one file; use as a context manager or call :meth:`close`.

    Attributes:
        path: the file being written.
    """

    def __init__(self, path: str | Path, gz: bool, instruments: Instruments | None = None) -> None:
        self.path = Path(path)
        self._decoder = KiteDecoder(instruments)
        self._raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6) if gz else None
        )
        self._out: IO[bytes] = cast("IO[bytes]", self._gz) if self._gz is not None else self._raw
        self.count = 0

    def write(self, tick: Tick) -> None:
        """Append one tick."""
        raise NotImplementedError

    def write_frame(self, recv_ns: int, frame: bytes) -> None:
        """Append a Kite frame received at ``recv_ns``: its ticks, or the frame itself for raw frames.

        Raises:
            TickDataError: the frame cannot be decoded (formats that store ticks).
        """
        for tick in self._decoder.decode_frame(frame, recv_ns):
            self.write(tick)

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._raw.closed:
            return
        try:
            if self._gz is not None:
                self._gz.close()
        finally:
            self._raw.close()

    def __enter__(self) -> TickWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class JsonlTickWriter(TickWriter):
    """One msgspec-encoded tick per line."""

    def write(self, tick: Tick) -> None:
        """Append one tick as a JSON line."""
        self._out.write(_ENCODER.encode(tick) + b"\n")
        self.count += 1


class CsvTickWriter(TickWriter):
    """The flat :data:`CSV_COLUMNS`, with a header line."""

    def __init__(self, path: str | Path, gz: bool, instruments: Instruments | None = None) -> None:
        super().__init__(path, gz, instruments)
        self._text = io.TextIOWrapper(self._out, encoding="utf-8", newline="", write_through=False)
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(CSV_COLUMNS)

    def write(self, tick: Tick) -> None:
        """Append one tick as a CSV row."""
        self._csv.writerow(tick_to_row(tick))
        self.count += 1

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if not self._raw.closed:
            self._text.flush()
            self._text.detach()
        super().close()


class FrameTickWriter(TickWriter):
    """Raw Kite frames: one frame per tick, with ``recv_ns = tick.ts_event``."""

    def __init__(self, path: str | Path, gz: bool, mode: str | None) -> None:
        super().__init__(path, gz)
        self._mode = mode

    def write(self, tick: Tick) -> None:
        """Append one tick as a one-packet frame in the writer's mode."""
        self.write_frame(tick.ts_event, encode_frame((tick,), self._mode))
        self.count += 1

    def write_frame(self, recv_ns: int, frame: bytes) -> None:
        """Append one frame as received (heartbeats included) at ``recv_ns``, without decoding it."""
        self._out.write(RECORD.pack(recv_ns, len(frame)))
        self._out.write(frame)


def open_writer(
    path: str | Path, mode: str | None = "full", *, instruments: Instruments | None = None
) -> TickWriter:
    """A writer for ``path``'s format (by suffix); the file is created or truncated.

    Args:
        path: ``.jsonl``, ``.csv``, ``.kite`` or ``.bin``, optionally ``.gz``.
        mode: packet mode for raw frames (``"ltp"``, ``"quote"``, ``"full"``; ``None`` = each
            tick's own mode); ignored by JSON lines and CSV, which store every field.
        instruments: names the ticks of frames passed to ``write_frame`` (JSON lines and CSV).

    Raises:
        TickDataError: unknown suffix.
        OSError: the file cannot be created.
    """
    fmt, gz = tick_format(path)
    if fmt == "jsonl":
        return JsonlTickWriter(path, gz, instruments)
    if fmt == "csv":
        return CsvTickWriter(path, gz, instruments)
    return FrameTickWriter(path, gz, mode)


def write_ticks(path: str | Path, ticks: Iterable[Tick], mode: str | None = "full") -> int:
    """Write all ``ticks`` to ``path`` (format by suffix) and return how many were written."""
    with open_writer(path, mode) as writer:
        for tick in ticks:
            writer.write(tick)
        return writer.count
