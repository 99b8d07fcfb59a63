"""`torrentfs add` and `torrentfs remove`: change a running library from a terminal.

Both work through the library's watch folder, which the mount names in its
status: `add` puts a `.torrent` or `.magnet` file there and waits for the
mount to list it, `remove` deletes the files naming a torrent.
"""

import time
from pathlib import Path

from torrentfs.core.errors import UserError
from torrentfs.core.status_schema import LibraryStatus, LibraryTorrentStatus
from torrentfs.core.watch_folder import put_source
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
        name = put_source(target, text)
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
