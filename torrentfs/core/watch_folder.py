"""The watch folder of a library: which files in it are torrents, and what changed.

A `.torrent` file is a torrent; a `.magnet` file is a text file holding one
magnet link (or a bare info-hash). Files are named by their path from the
watch folder ("tv/show.torrent"): subfolders at any depth are looked into.
Hidden files and folders (a name starting with ".", as partial writes
usually are) are not looked at; any other file is rejected with a reason,
as is a torrent or magnet that does not parse.
"""

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from torrentfs.core.durable import write_whole
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
    # Files whose stamp changed: gone, then come again (maybe naming another torrent).
    rewritten: list[str]


def scan(folder: Path, under: str = "") -> dict[str, Stamp]:
    """The visible files below `folder`/`under` at any depth, by path from `folder`;
    raises OSError if `folder` cannot be listed (a subfolder that cannot is skipped)."""
    found: dict[str, Stamp] = {}
    _scan_into(folder, under, found, top=True)
    return found


def _scan_into(folder: Path, under: str, found: dict[str, Stamp], top: bool) -> None:
    prefix = f"{under}/" if under else ""
    try:
        entries = list(os.scandir(folder / under))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        if top and not under:
            raise
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                _scan_into(folder, prefix + entry.name, found, top=False)
            elif entry.is_file():
                info = entry.stat()
                found[prefix + entry.name] = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            continue  # gone between the listing and the stat


def rescan(folder: Path, path: str) -> dict[str, Stamp]:
    """What is at `path` now: the file's stamp, or every file below it if it is a
    folder, or nothing if it is gone or hidden."""
    if any(part.startswith(".") for part in path.split("/")):
        return {}
    try:
        info = os.stat(folder / path, follow_symlinks=True)
    except OSError:
        return {}
    if os.path.isdir(folder / path) and not os.path.islink(folder / path):
        return scan(folder, path)
    if not os.path.isfile(folder / path):
        return {}
    return {path: (info.st_mtime_ns, info.st_size)}


def below(seen: dict[str, Stamp], path: str) -> dict[str, Stamp]:
    """The entries of `seen` at `path` or below it."""
    prefix = path + "/"
    return {name: stamp for name, stamp in seen.items() if name == path or name.startswith(prefix)}


def changes(before: dict[str, Stamp], after: dict[str, Stamp]) -> FolderChanges:
    """What appeared, what went, and what was rewritten."""
    rewritten = sorted(name for name in after if name in before and after[name] != before[name])
    added = sorted(name for name in after if name not in before)
    removed = sorted(name for name in before if name not in after)
    return FolderChanges(added, removed, rewritten)


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


def read_sources(
    watch_folder: Path, names: Iterable[str], complete: Callable[[Source], Source]
) -> dict[str, Source | UserError]:
    """The torrent each file names (`complete` adds what is known of it), or why it names
    none. File work: the library calls it on a worker thread."""
    read: dict[str, Source | UserError] = {}
    for name in names:
        try:
            read[name] = complete(source_of(watch_folder / name))
        except UserError as error:
            read[name] = error
    return read


def put_source(watch_folder: Path, text: str) -> str:
    """Write the watch-folder file for `text`, a local .torrent file's path or a link;
    returns its name. Only for the user who runs the command: it reads their files."""
    path = Path(text)
    if path.suffix == TORRENT_SUFFIX and path.is_file():
        parse_source(text)  # a clear error now rather than a rejection later
        return write_new(watch_folder, path.name, path.read_bytes())
    return put_link(watch_folder, text)


def put_link(watch_folder: Path, text: str) -> str:
    """Write the watch-folder file for a magnet link or an info-hash, never anything else:
    what a network client names is never read from the server's disk. Raises UserError."""
    source: Source = parse_link(text)
    info_hash = source.info_hash_v1 or source.info_hash_v2
    return write_new(watch_folder, f"{info_hash}{MAGNET_SUFFIX}", f"{text.strip()}\n".encode())


def write_new(watch_folder: Path, name: str, data: bytes) -> str:
    """Write `data` under `name` (or `name (2)`...) whole (`write_whole`)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 2
    while (watch_folder / candidate).exists():
        if (watch_folder / candidate).read_bytes() == data:
            return candidate  # already there
        candidate, number = f"{stem} ({number}){suffix}", number + 1
    try:
        write_whole(watch_folder / candidate, data)
    except OSError as error:
        raise UserError(
            f"cannot write to the watch folder {watch_folder}: {error.strerror}"
        ) from None
    return candidate


def write_torrent(watch_folder: Path, name: str, data: bytes) -> str:
    """Write an uploaded or fetched .torrent under a visible name ending in .torrent."""
    name = Path(name).name.lstrip(".") or "download"
    if not name.endswith(TORRENT_SUFFIX):
        name += TORRENT_SUFFIX
    return write_new(watch_folder, name, data)


def remove_files(watch_folder: Path, files: list[str]) -> None:
    """Delete these watch-folder files (paths relative to it); those already gone are fine."""
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            (watch_folder / file).unlink()


def move_files(watch_folder: Path, files: list[str], folder: Path) -> None:
    """Move these watch-folder files into `folder`; one that cannot be moved stays."""
    for file in files:
        with contextlib.suppress(OSError):
            os.rename(watch_folder / file, folder / Path(file).name)
