"""The watch folder of a library: which files in it are torrents, and what changed.

A `.torrent` file is a torrent; a `.magnet` file is a text file holding one
magnet link (or a bare info-hash). Hidden files (a name starting with ".",
as partial writes usually are) are not looked at; any other file is
rejected with a reason, as is a torrent or magnet that does not parse.
"""

from dataclasses import dataclass
from pathlib import Path

from torrentfs.core.errors import UserError
from torrentfs.core.source import Source, parse_link, parse_source

TORRENT_SUFFIX = ".torrent"
MAGNET_SUFFIX = ".magnet"
# A .magnet file is one line; anything longer is not one.
MAX_MAGNET_FILE_BYTES = 64 << 10

# What identifies one version of a file: its modification time and size.
Stamp = tuple[int, int]


@dataclass(frozen=True)
class FolderChanges:
    added: list[str]
    removed: list[str]


def scan(folder: Path) -> dict[str, Stamp]:
    """The visible files of `folder`, by name; raises OSError if it cannot be listed."""
    found = {}
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat()
        except FileNotFoundError:
            continue  # gone between the listing and the stat
        if entry.is_file():
            found[entry.name] = (info.st_mtime_ns, info.st_size)
    return found


def changes(before: dict[str, Stamp], after: dict[str, Stamp]) -> FolderChanges:
    """What appeared and what went; a file rewritten counts as both."""
    rewritten = [name for name in after if name in before and after[name] != before[name]]
    added = sorted([name for name in after if name not in before] + rewritten)
    removed = sorted([name for name in before if name not in after] + rewritten)
    return FolderChanges(added, removed)


def source_of(path: Path) -> Source:
    """The torrent a watch-folder file names; raises UserError with the reason it is not one."""
    if path.suffix == TORRENT_SUFFIX:
        return parse_source(str(path))
    if path.suffix == MAGNET_SUFFIX:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_MAGNET_FILE_BYTES + 1)
        except OSError as error:
            raise UserError(f"cannot read {path.name}: {error.strerror}") from None
        if len(data) > MAX_MAGNET_FILE_BYTES:
            raise UserError(f"{path.name} is too large to hold one magnet link")
        text = data.decode("utf-8", "replace").strip()
        if not text:
            raise UserError(f"{path.name} is empty: it should hold one magnet link")
        if "\n" in text:
            raise UserError(f"{path.name} holds more than one line: one magnet link per file")
        try:
            return parse_link(text)
        except UserError as error:
            raise UserError(f"{path.name}: {error}") from None
    raise UserError(f"{path.name} is neither a {TORRENT_SUFFIX} nor a {MAGNET_SUFFIX} file")
