"""Exchange holidays and special sessions: the yearly files ``session.holidays_file`` names.

One YAML file a year (``configs/holidays-2026.yaml``): per exchange, the days it is closed all day
or part of it (``opens``/``closes``: MCX's evening-only days), and the special sessions (Budget day,
Muhurat) that replace a day's normal one. A bad file is refused naming the file, line and key path.
``calendar.MarketCalendar`` turns these into sessions.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from execsvc.errors import ConfigError
from execsvc.session_hours import BAD_EXCHANGE, BAD_TIME, SEGMENTS, parse_hhmm

__all__ = ["Closure", "Holidays", "SpecialSession"]

_Name = Annotated[str, msgspec.Meta(min_length=1)]


class Closure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A holiday entry: the exchange is closed all day, or with ``opens``/``closes`` part of it."""

    date: dt.date
    name: _Name
    opens: str | None = None  # "HH:MM": the session starts late (MCX: evening only)
    closes: str | None = None  # "HH:MM": the session ends early
    note: str = ""


class SpecialSession(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A session on its own times (``"HH:MM"``) that replaces the day's normal one, on a holiday too."""

    date: dt.date
    name: _Name
    exchanges: Annotated[list[str], msgspec.Meta(min_length=1)]
    open: str
    close: str
    pre_open: str | None = None
    square_off: str | None = None  # default: the segment's usual margin before the close
    note: str = ""


class _File(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=1990, le=2200)]
    source: _Name
    exchanges: dict[str, Any]
    special_sessions: list[Any] = msgspec.field(default_factory=list)


class _Loader(yaml.SafeLoader):  # leaves dates as strings: a bad one is reported with line and key
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Path = tuple[str | int, ...]
_AT = re.compile(r"\s*- at `\$(?P<path>[^`]*)`")
_UNKNOWN = re.compile(r"unknown field `(?P<field>[^`]+)`")


class _Reader:
    """One holidays file: converts parts of it, and builds errors naming the file, line and key path."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        try:
            self.root, self.data = yaml.compose(text, _Loader), yaml.load(text, _Loader)  # a SafeLoader
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from exc

    def fail(self, path: _Path, reason: str) -> ConfigError:
        node: Any = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
        where = f"{self.source}:{node.start_mark.line + 1}" if node is not None else self.source
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "<root>"
        shown = f"={node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
        return ConfigError(f"{where}: {key}{shown}: {reason}")

    def convert(self, value: Any, kind: Any, path: _Path) -> Any:
        try:
            return msgspec.convert(value, kind, strict=False)
        except msgspec.ValidationError as exc:
            message, at = str(exc), _AT.search(str(exc))
            parts = re.findall(r"[^.\[\]]+", at["path"] if at else "")
            inner = tuple(int(p) if p.isdigit() else p for p in parts)
            unknown = _UNKNOWN.search(message)
            full = (*path, *inner, unknown["field"]) if unknown else (*path, *inner)
            raise self.fail(full, "unknown key" if unknown else _AT.sub("", message)) from exc

    def time(self, value: str | None, path: _Path) -> int | None:
        try:
            return None if value is None else parse_hhmm(str(path[-1]), value)
        except ConfigError:
            raise self.fail(path, BAD_TIME) from None


class Holidays(msgspec.Struct, frozen=True, kw_only=True):
    """Holidays and special sessions per exchange, from yearly YAML files (``configs/holidays-*.yaml``).

    Layout: ``{year, source, exchanges: {NSE: [{date, name, opens?, closes?, note?}, ...], ...},
    special_sessions: [{date, name, exchanges: [...], pre_open?, open, close, square_off?, note?}]}``.
    """

    closures: dict[tuple[str, dt.date], Closure] = msgspec.field(default_factory=dict)
    specials: dict[tuple[str, dt.date], SpecialSession] = msgspec.field(default_factory=dict)
    sources: dict[int, str] = msgspec.field(default_factory=dict)  # year -> the file it came from

    @classmethod
    def load(cls, *paths: str | Path) -> Holidays:
        """Read and merge yearly holiday files.

        Raises:
            ConfigError: a missing, non-UTF-8 or non-YAML file, a bad entry (file, line, key), a year twice.
        """
        merged: dict[str, dict[Any, Any]] = {"closures": {}, "specials": {}, "sources": {}}
        for path in paths:
            try:
                one = cls.from_yaml(Path(path).read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError) as e:  # missing, or saved in another encoding
                raise ConfigError(f"{path}: cannot read holidays file: {getattr(e, 'strerror', e)}") from e
            for year in one.sources.keys() & merged["sources"].keys():
                raise ConfigError(f"{path}: year {year} is already loaded from {merged['sources'][year]}")
            for field, values in merged.items():
                values |= getattr(one, field)
        return cls(**merged)

    @classmethod
    def from_yaml(cls, text: str, source: str = "<holidays>") -> Holidays:
        """Parse one yearly file; a bad entry raises ConfigError naming ``source``, line and key."""
        r = _Reader(text, source)
        top = r.convert(r.data, _File, ())
        closures: dict[tuple[str, dt.date], Closure] = {}
        for exchange, entries in top.exchanges.items():
            if exchange not in SEGMENTS:
                raise r.fail(("exchanges", exchange), BAD_EXCHANGE)
            for i, entry in enumerate(r.convert(entries, list[Closure], ("exchanges", exchange))):
                path: _Path = ("exchanges", exchange, i)
                if entry.date.year != top.year or (exchange, entry.date) in closures:
                    raise r.fail((*path, "date"), f"outside the year {top.year}, or listed twice")
                opens, closes = r.time(entry.opens, (*path, "opens")), r.time(entry.closes, (*path, "closes"))
                if opens is not None and closes is not None and opens >= closes:
                    raise r.fail((*path, "closes"), "must be after opens")
                closures[exchange, entry.date] = entry
        specials: dict[tuple[str, dt.date], SpecialSession] = {}
        listed = r.convert(top.special_sessions, list[SpecialSession], ("special_sessions",))
        for i, special in enumerate(listed):
            path = ("special_sessions", i)
            if special.date.year != top.year:
                raise r.fail((*path, "date"), f"outside the year {top.year}")
            pre, opens, close, sq = (
                r.time(getattr(special, k), (*path, k)) for k in ("pre_open", "open", "close", "square_off")
            )
            assert opens is not None and close is not None  # required keys
            if not (pre is None or pre <= opens) or not opens < (close if sq is None else sq) <= close:
                raise r.fail(path, "times must run pre_open <= open < square_off <= close")
            for j, exchange in enumerate(special.exchanges):
                if exchange not in SEGMENTS or (exchange, special.date) in specials:
                    raise r.fail((*path, "exchanges", j), "unknown exchange, or a second session that day")
                specials[exchange, special.date] = special
        return cls(closures=closures, specials=specials, sources={top.year: source})

    def covers(self, day: dt.date) -> bool:
        """Whether a loaded file covers ``day``'s year (otherwise only weekends are known closed)."""
        return day.year in self.sources
