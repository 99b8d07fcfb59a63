"""A mount's settings in a TOML file: every `torrentfs mount` option, by its long name.

`cache-size = "1G"` is `--cache-size 1G`; a switch is a boolean
(`download-all = true`, and `dht = false` for `--no-dht`); `peer` is a list;
`source` and `mountpoint` are the two positional arguments. The keys come
from the command line's own parser, so the file can never lag behind it.

The file is turned into command-line options placed before the real ones,
so options given on the command line win. The environment variables that
stand for an option win over the file: that option is left out of it.
Mistakes are reported with the file, the key and its line.
"""

import argparse
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torrentfs.core.errors import UserError
from torrentfs.core.units import parse_duration, parse_size

POSITIONAL_KEYS = ("source", "mountpoint")
# Options that are about the command line itself, not about a mount.
NOT_IN_FILES = frozenset({"help", "config"})
_CHECKS = {"SIZE": parse_size, "DURATION": parse_duration}


@dataclass(frozen=True)
class FileOptions:
    """What a config file says, as command-line words."""

    options: list[str]
    source: str | None
    mountpoint: str | None


@dataclass(frozen=True)
class _Key:
    option: str
    action: argparse.Action
    # For `--no-X` switches: the file says `X = false`.
    inverted: bool = False


def file_keys(parser: argparse.ArgumentParser) -> dict[str, _Key]:
    """The keys a config file may hold, from the options of `parser`."""
    keys: dict[str, _Key] = {}
    for action in parser._actions:
        long_names = [name for name in action.option_strings if name.startswith("--")]
        if not long_names:
            continue
        option = long_names[0]
        name = option.removeprefix("--")
        if name in NOT_IN_FILES:
            continue
        if name.startswith("no-") and action.const is True:
            keys[name.removeprefix("no-")] = _Key(option, action, inverted=True)
        else:
            keys[name] = _Key(option, action)
    return keys


def read_config(
    path: Path, parser: argparse.ArgumentParser, overridden: frozenset[str] = frozenset()
) -> FileOptions:
    """The options in the TOML file at `path`; keys in `overridden` are left out.

    Raises UserError naming the file, key and line for anything it cannot use.
    """
    try:
        text = path.read_text()
    except OSError as error:
        raise UserError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from None
    keys = file_keys(parser)
    options: list[str] = []
    for key, value in table.items():
        where = f"{path}:{_line_of(text, key)}: {key}"
        if key in POSITIONAL_KEYS:
            if not isinstance(value, str) or not value:
                raise UserError(f"{where}: must be a non-empty string")
            continue
        if key not in keys:
            raise UserError(f"{where}: unknown key (known: {', '.join(sorted(keys))})")
        if key not in overridden:
            options += _words(keys[key], value, where)
    return FileOptions(options, table.get("source"), table.get("mountpoint"))


def _words(key: _Key, value: Any, where: str) -> list[str]:
    action = key.action
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise UserError(f"{where}: must be true or false")
        return [key.option] if value != key.inverted else []
    if isinstance(action, argparse._AppendAction):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: must be a list of strings")
        return [word for item in value for word in (key.option, item)]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"{where}: must be a string or a number")
    text = str(value)
    if action.choices is not None and text not in action.choices:
        raise UserError(f"{where}: must be one of {', '.join(map(str, action.choices))}")
    check = _CHECKS.get(str(action.metavar))
    if check is not None:
        try:
            check(text)
        except UserError as error:
            raise UserError(f"{where}: {error}") from None
    return [key.option, text]


def _line_of(text: str, key: str) -> int | str:
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return "?"
