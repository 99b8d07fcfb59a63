"""`torrentfs add` and `torrentfs remove`: change a running library from a terminal.

Both work through the library's watch folder, which the mount names in its
status: `add` puts a `.torrent` or `.magnet` file there and waits for the
mount to list it, `remove` deletes the files naming a torrent.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

from torrentfs.core.errors import UserError
from torrentfs.core.source import Source, parse_link, parse_source
from torrentfs.core.status_schema import LibraryStatus, LibraryTorrentStatus
from torrentfs.core.watch_folder import MAGNET_SUFFIX, TORRENT_SUFFIX
from torrentfs.status import read_library_status

# The mount lists a new file as soon as the kernel tells it (or at its next rescan).
ADD_WAIT_S = 5.0
ADD_POLL_S = 0.1


def add(mountpoint: Path, sources: list[str], folder: str = "") -> int:
    """Add each source to the library, in its subfolder `folder` (made if new); print each
    one's folder. Raises UserError."""
    watch_folder = Path(read_library_status(mountpoint)["watch_folder"])
    parts = [part for part in folder.split("/") if part]
    if any(part in (".", "..") or part.startswith(".") for part in parts):
        raise UserError(f"--folder {folder!r}: a path inside the library, without '.' names")
    subfolder = "/".join(parts)
    target = watch_folder / subfolder
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot make {target}: {error.strerror}") from None
    for text in sources:
        name = _put(target, text)
        print(_wait_listed(mountpoint, f"{subfolder}/{name}" if subfolder else name))
    return 0


def remove(mountpoint: Path, name_or_hash: str) -> int:
    """Remove the torrent whose folder or info-hash this is; print its folder."""
    status = read_library_status(mountpoint)
    torrent = _find(status, name_or_hash)
    for file in torrent["files"]:
        try:
            (Path(status["watch_folder"]) / file).unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            raise UserError(
                f"cannot remove {file} from the watch folder: {error.strerror}"
            ) from None
    print(torrent["folder"])
    return 0


def _put(watch_folder: Path, text: str) -> str:
    """Write the watch-folder file for `text`; returns its name."""
    path = Path(text)
    if path.suffix == TORRENT_SUFFIX and path.is_file():
        parse_source(text)  # a clear error now rather than a rejection later
        return _write_new(watch_folder, path.name, path.read_bytes())
    source: Source = parse_link(text)
    info_hash = source.info_hash_v1 or source.info_hash_v2
    return _write_new(watch_folder, f"{info_hash}{MAGNET_SUFFIX}", f"{text.strip()}\n".encode())


def _write_new(watch_folder: Path, name: str, data: bytes) -> str:
    """Write `data` under `name` (or `name (2)`...) whole: hidden while written, then renamed."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 2
    while (watch_folder / candidate).exists():
        if (watch_folder / candidate).read_bytes() == data:
            return candidate  # already there
        candidate, number = f"{stem} ({number}){suffix}", number + 1
    try:
        with tempfile.NamedTemporaryFile(dir=watch_folder, prefix=".", delete=False) as partial:
            partial.write(data)
        os.chmod(partial.name, 0o644)
        shutil.move(partial.name, watch_folder / candidate)
    except OSError as error:
        raise UserError(
            f"cannot write to the watch folder {watch_folder}: {error.strerror}"
        ) from None
    return candidate


def _wait_listed(mountpoint: Path, file: str) -> str:
    """The folder the mount shows for watch-folder `file`, once it does."""
    deadline = time.monotonic() + ADD_WAIT_S
    while True:
        status = read_library_status(mountpoint)
        for torrent in status["torrents"]:
            if file in torrent["files"]:
                return torrent["folder"]
        for rejected in status["rejected"]:
            if rejected["file"] == file:
                raise UserError(f"the library rejected {file}: {rejected['reason']}")
        if time.monotonic() > deadline:
            raise UserError(f"{mountpoint} did not list {file} within {ADD_WAIT_S:.0f} s")
        time.sleep(ADD_POLL_S)


def _find(status: LibraryStatus, name_or_hash: str) -> LibraryTorrentStatus:
    for torrent in status["torrents"]:
        if name_or_hash in (torrent["folder"], torrent["info_hash"]):
            return torrent
        if name_or_hash.lower() == torrent["info_hash"]:
            return torrent
    raise UserError(f"no torrent named {name_or_hash!r} in the library at {status['watch_folder']}")
