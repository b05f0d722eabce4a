"""The journal's line format: one JSON object per line, hash-chained.

A line is ``{"seq":N,"ts":T,"prev":"<hex>","ev":{...},"h":"<hex>"}`` where ``ev`` is a tagged
event, ``prev`` the ``h`` of the record before (64 zeros for the first record of a file) and ``h``
the SHA-256 of the line's own bytes without its ``,"h":"..."`` member. Any edited, dropped or
reordered record breaks either a hash or the ``prev`` link; ``seq`` counts from 0 in each file.
"""

from __future__ import annotations

import hashlib

import msgspec

from execsvc.events import JournalEvent

GENESIS = "0" * 64
_H_OPEN = b',"h":"'
_SUFFIX_LEN = len(_H_OPEN) + 64 + len(b'"}')


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One journal record as stored."""

    seq: int
    ts: int
    prev: str
    ev: JournalEvent
    h: str = ""


_encoder = msgspec.json.Encoder()
_record_decoder = msgspec.json.Decoder(Record)
_event_decoder = msgspec.json.Decoder(JournalEvent)
_sha256 = hashlib.sha256


def encode_record(seq: int, ts: int, prev: str, event: JournalEvent) -> tuple[bytes, str]:
    """The line for one record (with its trailing newline) and its hash.

    The envelope is written by hand around msgspec's encoding of the event (it is the hot path);
    ``decode_record`` reads it back as a :class:`Record`.
    """
    head = b'{"seq":%d,"ts":%d,"prev":"%s","ev":%s' % (seq, ts, prev.encode(), _encoder.encode(event))
    digest = _sha256(head + b"}").hexdigest()
    return b'%s,"h":"%s"}\n' % (head, digest.encode()), digest


def body_of(line: bytes) -> bytes:
    """The hashed bytes of a stored line (the line without its ``h`` member and newline)."""
    stripped = line.rstrip(b"\n")
    return stripped[:-_SUFFIX_LEN] + b"}"


def hash_of(line: bytes) -> str:
    """The SHA-256 a stored line should carry in its ``h`` member."""
    return _sha256(body_of(line)).hexdigest()


def decode_record(line: bytes) -> Record:
    """Parse one stored line.

    Raises:
        msgspec.DecodeError: not a record (the reader maps this to a journal error).
    """
    return _record_decoder.decode(line)


def decode_event(data: bytes) -> JournalEvent:
    """Parse one tagged event (as found in an HTTP body or a bus message)."""
    event: JournalEvent = _event_decoder.decode(data)
    return event


def encode_event(event: JournalEvent) -> bytes:
    """Encode one tagged event as JSON."""
    return _encoder.encode(event)
