"""JSON from outside (HTTP bodies, bus messages, broker answers): what is unreadable, a key given
twice, a field we do not know. Each comes back as a field error naming the key and its value."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from execsvc.errors import FieldError, safe_repr

#: What msgspec raises for bytes that are not a readable JSON document: besides ``DecodeError``,
#: ``UnicodeDecodeError`` for bytes that are not UTF-8 and ``RecursionError`` for nesting deeper than
#: it recurses. A message from outside that raises one is bad input, never a reason to stop.
UNREADABLE_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def strict_json(data: bytes) -> tuple[Any, list[FieldError]]:
    """The JSON value of ``data``, and a field error for every key given twice in one of its objects.

    msgspec, like most decoders, keeps the last of two values for one key, so ``{"qty": 10,
    "qty": 20}`` would be read as 20; the sender meant one of them and which is not ours to guess.
    The standard library hands every object's pairs over in order, so this second reading finds
    them at any depth (about 5 us for an intent). Meant for a body msgspec has already read: what
    the standard library cannot read here (an integer of more than 4300 digits, nesting deeper than
    it recurses) is reported as ``body``.

    Returns:
        The value (None when unreadable) and the errors, each naming the key and its values in order.
    """
    errors: list[FieldError] = []

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            given: dict[str, list[Any]] = {}
            for key, value in pairs:
                given.setdefault(key, []).append(value)
            errors.extend(
                FieldError(key, values, "given more than once: send each field once")
                for key, values in given.items()
                if len(values) > 1
            )
        return obj

    try:
        value = json.loads(data, object_pairs_hook=once)
    except (ValueError, RecursionError) as exc:
        return None, [FieldError("body", None, f"not JSON this service reads: {exc}")]
    return value, errors


def unknown_fields(obj: Mapping[str, Any], known: Collection[str]) -> list[FieldError]:
    """A field error for every key of ``obj`` that is not in ``known``, naming its value.

    A misspelt field is never ignored: ``validty`` would otherwise leave ``validity`` at its
    default, and ``strategy_code`` in a square-off would leave ``strategy`` at "all strategies".
    The reason suggests the nearest known name.
    """
    errors: list[FieldError] = []
    for name in sorted(set(obj) - set(known)):
        near = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; known fields: {', '.join(sorted(known))}"
        value = obj[name]
        shown = value if isinstance(value, str | int | float | bool | None) else safe_repr(value)[:80]
        errors.append(FieldError(name, shown, "unknown field" + hint))
    return errors


def lone_surrogates(data: bytes) -> list[FieldError]:
    """A field error for the first string of ``data`` that holds a lone surrogate escape (``\\ud800``).

    JSON may escape one; UTF-8, and so the journal, cannot hold it. msgspec refuses such a body
    with "Input data was truncated" (or "invalid utf-16 surrogate pair"), naming no field and, for
    the first, saying something untrue of a complete body. The standard library reads it, so the
    string is found here, named by its path as msgspec names one (``metadata.note[1]``).

    Returns:
        One error, or none when ``data`` is not JSON the standard library reads or holds no such string.
    """
    try:
        found = _first_lone_surrogate(json.loads(data), "")
    except (ValueError, RecursionError):  # the walk recurses as deep as the body nests
        return []
    return [] if found is None else [found]


def _first_lone_surrogate(node: Any, path: str) -> FieldError | None:
    children: list[tuple[str, Any]] = []
    if isinstance(node, str) and _has_lone_surrogate(node):
        return FieldError(path or "body", _escaped(node), "holds a lone surrogate, which UTF-8 cannot hold")
    if isinstance(node, dict):
        for key, child in node.items():
            if _has_lone_surrogate(key):
                return FieldError(path or "body", _escaped(key), "a key holds a lone surrogate")
            children.append((f"{path}.{key}" if path else key, child))
    elif isinstance(node, list):
        children = [(f"{path}[{i}]", child) for i, child in enumerate(node)]
    for child_path, child in children:
        found = _first_lone_surrogate(child, child_path)
        if found is not None:
            return found
    return None


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _escaped(text: str) -> str:
    # the answer is JSON sent as UTF-8: the surrogate goes back as the escape it came in as
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def numbers_out_of_range(data: bytes) -> list[FieldError]:
    """A field error for the first number of ``data`` that no float holds (``1e400``), with its value
    as written.

    msgspec refuses such a body with "Number out of range" at a path that names no key inside a
    dict (``$.metadata[...][1]``), and an untyped decode (the NATS intake's) at ``$[...]``, so the
    number is found here and named by its path as :func:`lone_surrogates` names a string
    (``metadata.a[1]``). Meant for a body msgspec has already refused: it reads the body again.

    Returns:
        One error, or none when ``data`` is not JSON the standard library reads or holds no such number.
    """
    try:
        found = _first_as_written(json.loads(data, parse_float=_finite_or_as_written), "")
    except (ValueError, RecursionError):  # the walk recurses as deep as the body nests
        return []
    return [] if found is None else [found]


class _AsWritten(str):
    """A number no float holds, kept as its text (a str subclass, so a string is never taken for it)."""


def _finite_or_as_written(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else _AsWritten(text)


def _first_as_written(node: Any, path: str) -> FieldError | None:
    if isinstance(node, _AsWritten):
        return FieldError(path or "body", str(node), "Number out of range")
    children: Any = ()
    if isinstance(node, dict):
        children = ((f"{path}.{key}" if path else key, child) for key, child in node.items())
    elif isinstance(node, list):
        children = ((f"{path}[{i}]", child) for i, child in enumerate(node))
    for child_path, child in children:
        found = _first_as_written(child, child_path)
        if found is not None:
            return found
    return None


Keys = tuple[str | int, ...]
"""Where a value sits inside a JSON value: the keys of objects and the indexes of arrays, in order."""

NON_FINITE_REASON = "JSON has no NaN or infinity; send it as a string"


def non_finite_numbers(value: Any) -> list[tuple[Keys, float]]:
    """Every float in ``value`` (dicts, lists and tuples, at any depth) that is NaN or infinite,
    with its keys, in the order JSON would write them.

    msgspec writes such a float as ``null``, so the journal (and a NATS message) would say something
    other than what the caller sent. Recursive: meant for a value whose depth is already bounded
    (``metadata``, checked by validation first).
    """
    found: list[tuple[Keys, float]] = []
    _collect_non_finite(value, (), found)
    return found


def _collect_non_finite(node: Any, keys: Keys, found: list[tuple[Keys, float]]) -> None:
    if isinstance(node, float):
        if not math.isfinite(node):
            found.append((keys, node))
    elif isinstance(node, dict):
        for key, child in node.items():
            _collect_non_finite(child, (*keys, str(key)), found)  # as JSON writes the key
    elif isinstance(node, list | tuple):
        for index, child in enumerate(node):
            _collect_non_finite(child, (*keys, index), found)


def path_of(field: str, keys: Keys) -> str:
    """A field error's name for the value at ``keys`` inside ``field``: ``metadata.fair[1]``."""
    return field + "".join(f"[{key}]" if type(key) is int else f".{key}" for key in keys)


def non_finite_errors(field: str, value: Any) -> list[FieldError]:
    """A field error for every NaN or infinite float inside ``value``, named by its path under ``field``
    (``metadata.fair[1]=nan: JSON has no NaN or infinity; send it as a string``).
    """
    return [
        FieldError(path_of(field, keys), number, NON_FINITE_REASON)
        for keys, number in non_finite_numbers(value)
    ]


def put_at(root: Any, keys: Keys, value: Any) -> bool:
    """Set the value at ``keys`` inside ``root`` (its dicts and lists), if the path is there.

    Returns:
        Whether it was set (False for a path that does not lead to a dict key or list index).
    """
    if not keys:
        return False
    node = root
    for key in keys[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    last = keys[-1]
    if isinstance(node, dict) and last in node:
        node[last] = value
        return True
    if isinstance(node, list) and type(last) is int and -len(node) <= last < len(node):
        node[last] = value
        return True
    return False
