"""``execsvc record``: Kite's WebSocket into a tick file that holds the packets of one mode only.

The client subscribes as pykiteconnect does, ``subscribe`` then ``mode`` (FACTS.md 4.2), and a fresh
subscription is in ``quote`` mode until the ``mode`` message is read: whatever is sent in between
(the simulator's snapshot of each token's latest tick; on Kite, the ticks of that moment) comes as
quote packets, and again after every reconnect. An ``ltp`` recording used to begin with a quote
tick per token, and a ``full`` one with a tick without depth or timestamps. Those packets are left
out and counted: an ``ltp`` file holds last prices only, a ``quote`` file no depth and no
timestamps, a ``full`` file depth and timestamps, in every format.

A raw-frame file (``.kite[.gz]``) keeps each frame's bytes as received when all its packets are of
the mode; a frame that mixes modes is written with the packets that are (their bytes unchanged),
and one with none of them is left out.

Error handling:
    A frame that does not parse is kept as received in a raw-frame file (a replay reports it with
    its offset) and left out of a tick file with a warning; the recording goes on either way.

Resource handling:
    :meth:`Recording.run` owns the WebSocket client's task: it cancels and awaits it when the
    duration is over or ``stop`` is set, whichever comes first. The caller closes the writer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

from execsvc.aio import first_of
from execsvc.errors import TickDataError
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.market.files import tick_format
from execsvc.market.tick_writers import FrameTickWriter, TickWriter

__all__ = ["Recording", "frame_in_mode", "out_problem", "packet_mode", "record_command"]

log = logging.getLogger("execsvc.record")

_U16 = struct.Struct(">H")
# Packets are told apart by length (FACTS.md 4.3): tradable 8 / 44 / 184 bytes, indices 28 / 32.
_MODE_OF_LENGTH = {8: "ltp", 44: "quote", 28: "quote", 184: "full", 32: "full"}


def packet_mode(length: int) -> str | None:
    """The mode of a packet of ``length`` bytes (``ltp``, ``quote`` or ``full``), None if unknown."""
    return _MODE_OF_LENGTH.get(length)


def frame_in_mode(frame: bytes, mode: str) -> tuple[bytes | None, int]:
    """``frame`` with only its packets of ``mode``, and how many packets were left out.

    Returns:
        ``frame`` itself when every packet is of ``mode``; a new frame of the packets that are
        (bytes unchanged, order kept) when some are not; None when none is.

    Raises:
        TickDataError: ``("<frame>", "offset N", reason)`` for a truncated frame or trailing bytes.
    """
    size = len(frame)
    if size < 2:
        return None, 0
    (count,) = _U16.unpack_from(frame, 0)
    kept: list[bytes] = []
    off = 2
    for index in range(count):
        if off + 2 > size:
            raise TickDataError("<frame>", f"offset {off}", f"truncated: packet {index + 1} of {count}")
        (length,) = _U16.unpack_from(frame, off)
        end = off + 2 + length
        if end > size:
            raise TickDataError("<frame>", f"offset {off + 2}", f"truncated: packet {index + 1} of {count}")
        if _MODE_OF_LENGTH.get(length) == mode:
            kept.append(frame[off:end])
        off = end
    if off != size:
        raise TickDataError("<frame>", f"offset {off}", f"{size - off} trailing bytes after {count} packets")
    if len(kept) == count:
        return frame, 0
    if not kept:
        return None, count
    return _U16.pack(len(kept)) + b"".join(kept), count - len(kept)


class Recording:
    """Writes the frames a WebSocket client hands over, keeping the packets of ``mode``.

    Args:
        writer: the open output (its format follows its suffix); the caller closes it.
        mode: ``ltp``, ``quote`` or ``full``: what the file is to hold.

    Attributes:
        frames: frames written.
        ticks: packets written (one tick each).
        left_out: packets of another mode left out.
        unreadable: frames that did not parse (kept in a raw-frame file, left out of a tick file).
    """

    def __init__(self, writer: TickWriter, mode: str) -> None:
        self.writer = writer
        self.mode = mode
        self.frames = 0
        self.ticks = 0
        self.left_out = 0
        self.unreadable = 0
        self._raw = isinstance(writer, FrameTickWriter)
        self._progress = asyncio.Event()

    def on_frame(self, recv_ns: int, frame: bytes) -> None:
        """Write one received frame's packets of the recording's mode (the client's ``on_frame``)."""
        try:
            kept, left_out = frame_in_mode(frame, self.mode)
            ticks = _U16.unpack_from(kept, 0)[0] if kept is not None else 0
        except TickDataError as exc:
            self.unreadable += 1
            if not self._raw:
                log.warning("a frame of %d bytes left out: %s", len(frame), exc)
                return
            log.warning("a frame of %d bytes kept as received: %s", len(frame), exc)
            kept, left_out, ticks = frame, 0, 0
        self.left_out += left_out
        if kept is None:
            return
        self.writer.write_frame(recv_ns, kept)  # a tick file decodes it, a raw-frame file stores it
        self.frames += 1
        self.ticks += ticks
        self._progress.set()

    async def written(self, ticks: int) -> None:
        """Return once at least ``ticks`` ticks are written (a test awaits it under a timeout)."""
        while self.ticks < ticks:
            self._progress.clear()
            await self._progress.wait()

    async def run(self, client: KiteTickerClient, *, duration: float | None, stop: asyncio.Event) -> None:
        """Run ``client`` (its ``on_frame`` is :meth:`on_frame`) for ``duration`` seconds (None: no
        limit) or until ``stop`` is set, whichever comes first.

        Raises:
            Exception: whatever ended the client's task before then.
        """
        await first_of(client.run(), stop.wait(), timeout=duration)


def out_problem(out: str) -> str | None:
    """Why ``record --out`` cannot be written, found before anything connects (None: it can be tried)."""
    try:
        tick_format(out)
    except TickDataError as exc:
        return f"--out {out!r}: {exc.reason}"
    if not Path(out).resolve().parent.is_dir():
        return f"--out {out!r}: its directory does not exist"
    return None


async def record_command(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """``execsvc record``: record ``args.tokens`` in ``args.mode`` into ``args.out`` for
    ``args.duration`` seconds or until SIGINT or SIGTERM (or ``stop``), then print what was written.

    Returns:
        0, or 2 when ``--out`` cannot be created (nothing connects then).

    Raises:
        ExecsvcError: a bad config or no access token (the CLI's exit 2).
    """
    from execsvc.clock import LiveClock
    from execsvc.config import load_config
    from execsvc.executors.kite.auth import load_access_token
    from execsvc.logs import register_secret
    from execsvc.market.kite_codec import KiteDecoder
    from execsvc.market.tick_writers import open_writer
    from execsvc.reference import load_instruments

    config = load_config(args.config)
    token = load_access_token(config.kite).reveal()
    register_secret(token)
    instruments = load_instruments(config)
    try:  # JSON lines and CSV name the ticks from the instruments
        writer = open_writer(args.out, mode=None, instruments=instruments)
    except OSError as exc:
        print(f"--out {args.out!r}: cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return 2
    recording = Recording(writer, args.mode)
    client = KiteTickerClient(
        ws_root=config.kite.ws_root,
        api_key=config.kite.api_key,
        access_token=token,
        tokens=args.tokens,
        mode=args.mode,
        decoder=KiteDecoder(instruments),
        on_ticks=lambda ticks: None,
        on_frame=recording.on_frame,
        now_ns=LiveClock().now_ns,
    )
    stop = stop or asyncio.Event()
    with _stopped_by_signals(stop):
        try:
            await recording.run(client, duration=args.duration, stop=stop)
        finally:
            writer.close()
    other = f"; {recording.left_out} packets not in {args.mode} mode left out" if recording.left_out else ""
    bad = f"; {recording.unreadable} unreadable frames" if recording.unreadable else ""
    print(
        f"recorded {recording.frames} frames ({recording.ticks} {args.mode} ticks) to {args.out} "
        f"({client.disconnects} disconnects){other}{bad}"
    )
    return 0


@contextlib.contextmanager
def _stopped_by_signals(stop: asyncio.Event) -> Iterator[None]:
    # Ctrl-C and `kill` end a recording as its duration does: a gzip file cut off by the default
    # handlers would lose its buffered tail and its trailer
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
