"""The README's references stay true to the code: the configuration table lists every key of the
schema with its default and no key the schema lacks; the CLI table lists every subcommand with
exactly its options; every ``execsvc`` command the README shows parses."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from execsvc.cli import build_parser
from execsvc.config import Config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SECTIONS = {field.name for field in msgspec.structs.fields(Config)}


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next one."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def schema_defaults(struct: Any = Config, prefix: str = "") -> dict[str, Any]:
    """Every leaf key of the config schema (a nested section is walked; a list or mapping of
    values, such as ``strategies``, is one key), with its default."""
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        path = prefix + field.name
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            out.update(schema_defaults(field.type, path + "."))
        elif field.default_factory is not msgspec.NODEFAULT:
            out[path] = field.default_factory()
        else:
            out[path] = field.default
    return out


def documented_defaults() -> dict[str, list[str]]:
    """The configuration table's keys, resolved to full paths, with the default(s) shown for them.

    A cell may hold several keys (``a`` / ``b``) and the default cell as many values, in order; a key
    written ``…x``, or without a section, continues the path of the last full key above it.
    """
    keys: dict[str, list[str]] = {}
    parent = ""
    for line in section("Configuration").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        names, defaults = re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])
        assert len(names) == len(defaults), f"{cells[0]}: {len(names)} keys, {len(defaults)} defaults"
        for i, name in enumerate(names):
            top = name.split(".")[0] in SECTIONS and ("." in name or i == 0)
            full = name if top else parent + name.lstrip("…")
            parent = full.rpartition(".")[0] + "." if "." in full else ""
            assert full not in keys, f"{full} documented twice"
            keys[full] = [defaults[i]]
    return keys


def same(shown: str, default: Any) -> bool:
    """Whether the README's rendering of a default is the schema's value."""
    if isinstance(default, str):
        return shown == default or (shown == '""' and default == "")
    value = yaml.safe_load(shown)
    return value == (list(default) if isinstance(default, tuple) else default)


def test_every_config_key_is_documented_and_every_documented_key_exists():
    schema, documented = schema_defaults(), documented_defaults()
    assert sorted(schema.keys() - documented.keys()) == [], "keys the README's configuration table lacks"
    assert sorted(documented.keys() - schema.keys()) == [], "keys in the README that the schema lacks"


def test_the_documented_defaults_are_the_schemas():
    schema = schema_defaults()
    wrong = {
        key: (shown, schema[key])
        for key, (shown,) in documented_defaults().items()
        if key in schema and not same(shown, schema[key])
    }
    assert wrong == {}


def subcommands(parser: argparse.ArgumentParser, prefix: str = "execsvc") -> dict[str, set[str]]:
    """Each leaf subcommand (``execsvc journal verify``) with its options, ``--help`` aside."""
    out: dict[str, set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(subcommands(sub, f"{prefix} {name}"))
    if not out and prefix != "execsvc":
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
        out[prefix] = options - {"--help"}
    return out


def test_the_cli_table_lists_each_subcommand_with_exactly_its_options():
    rows = {}
    for line in section("CLI").splitlines():
        match = re.match(r"\| `(execsvc [a-z -]+?)(?: [\[-]| [A-Z]|`)", line)
        if match:
            rows[match.group(1).strip()] = set(re.findall(r"--[a-z][a-z-]*", line.split(" | ")[0]))
    parsers = subcommands(build_parser())
    assert sorted(parsers) == sorted(rows)
    assert {name: rows[name] for name in parsers} == parsers
    top = {o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")}
    assert [option for option in top - {"--help"} if f"`{option}" not in section("CLI")] == []


def readme_commands() -> list[str]:
    """Every ``execsvc`` command line the README gives to run: in ``sh`` blocks, and inline as
    ``.venv/bin/execsvc ...``; joined across backslash-newlines, optional parts (``[...]``),
    comments and environment variables before the command dropped."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        found += [line.split("  #")[0] for line in block.replace("\\\n", " ").splitlines()]
    found += re.findall(r"`((?:[A-Z_]+=\S+ )?\.venv/bin/execsvc [^`]+)`", README)
    commands = []
    for line in found:
        words = shlex.split(re.sub(r"\[[^\]]*\]", "", line))
        while words and "=" in words[0]:
            words = words[1:]
        if words and words[0].endswith("execsvc"):
            commands.append(" ".join(words))
    return commands


def test_the_readme_shows_commands():
    assert len(readme_commands()) >= 7


@pytest.mark.parametrize("command", readme_commands())
def test_each_command_the_readme_shows_parses(command: str):
    build_parser().parse_args(shlex.split(command)[1:])
