"""Where libtorrent keeps torrent data: RAM (memory mode) or a cache folder (disk mode).

libtorrent's Python bindings cannot use a custom storage (docs/architecture.md, "Measured facts"),
so it always writes verified pieces to files. In memory mode those files go
to a private folder on a RAM-backed filesystem, checked to be tmpfs, removed
on exit and, after a crash, on the next start. In disk mode they go to a
cache folder per info-hash, with the resume data that lets a remount use
what was fetched before.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from torrentfs.core import mountinfo
from torrentfs.core.config import StorageMode
from torrentfs.core.durable import write_whole
from torrentfs.core.errors import UserError
from torrentfs.core.layout import TorrentLayout

log = logging.getLogger(__name__)

RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
RESUME_FILE_NAME = "resume.fastresume"
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


def is_ram_backed(path: Path) -> bool:
    return mountinfo.filesystem_type(os.path.realpath(path), mountinfo.read()) in RAM_FILESYSTEMS


def ram_base_dir() -> Path:
    """The first RAM-backed place among systemd's RuntimeDirectory, $XDG_RUNTIME_DIR, /dev/shm."""
    candidates = [
        os.environ.get("RUNTIME_DIRECTORY"),
        os.environ.get("XDG_RUNTIME_DIR"),
        "/dev/shm",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and is_ram_backed(Path(candidate)):
            return Path(candidate)
    raise UserError(
        "memory storage needs a RAM-backed folder and found none: mount a tmpfs on /dev/shm, "
        "set XDG_RUNTIME_DIR to one, or use --storage disk"
    )


def memory_root() -> Path:
    """The folder holding one working folder per running mount of this user."""
    return ram_base_dir() / f"torrentfs-{os.getuid()}"


def disk_cache_root() -> Path:
    """systemd's CacheDirectory, else $XDG_CACHE_HOME/torrentfs, else ~/.cache/torrentfs."""
    systemd_cache = os.environ.get("CACHE_DIRECTORY")
    if systemd_cache:
        return Path(systemd_cache)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "torrentfs"


@dataclass
class Storage:
    """The folder for one torrent's files, and its resume data in disk mode."""

    mode: StorageMode
    # Disk mode: the folder under which each torrent gets one named by its
    # info-hash; None for the default.
    cache_dir: Path | None = None
    save_path: Path | None = None

    def prepare(self, info_hash: str) -> Path:
        """The folder for this torrent's files; raises UserError if it could not be made.

        Only its parent is made now: libtorrent makes the folder with the
        first piece it writes, so a library's unread torrents leave none.
        """
        if self.mode is StorageMode.MEMORY:
            self.save_path = _new_memory_workdir(info_hash)
        else:
            root = self.cache_dir or disk_cache_root()
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"cannot create cache folder {root}: {error.strerror}") from None
            if not os.access(root, os.W_OK | os.X_OK):
                raise UserError(f"cannot create cache folder {root}: not writable")
            self.save_path = root / info_hash
        return self.save_path

    @property
    def in_ram(self) -> bool:
        return self.mode is StorageMode.MEMORY

    @property
    def keeps_resume_data(self) -> bool:
        return self.mode is StorageMode.DISK

    def load_resume_data(self) -> bytes | None:
        if self.mode is not StorageMode.DISK or self.save_path is None:
            return None
        try:
            return (self.save_path / RESUME_FILE_NAME).read_bytes()
        except FileNotFoundError:
            return None

    def save_resume_data(self, data: bytes) -> None:
        if self.mode is not StorageMode.DISK or self.save_path is None:
            return
        self.save_path.mkdir(exist_ok=True)
        write_whole(self.save_path / RESUME_FILE_NAME, data)

    def close(self) -> None:
        """Memory mode: remove the working files. Disk mode keeps them."""
        if self.mode is StorageMode.MEMORY and self.save_path is not None:
            shutil.rmtree(self.save_path, ignore_errors=True)
            # The process's folder goes with its last torrent.
            with contextlib.suppress(OSError):
                self.save_path.parent.rmdir()


@functools.cache
def _process_memory_root(pid: int) -> Path:
    """`memory_root()`, looked up once a process: finding it reads the mount table, which
    cost a library of 10 000 torrents 2 s at start when done for each."""
    return memory_root()


def _new_memory_workdir(info_hash: str) -> Path:
    """A fresh folder for one torrent, in this process's private folder (one per running
    mount); the process's folder is made now, the torrent's by its first piece."""
    root = _process_memory_root(os.getpid())
    process_dir = root / str(os.getpid())
    if not process_dir.exists():
        # Once a process (and again after its last torrent took the folder away).
        root.mkdir(mode=0o700, exist_ok=True)
        _remove_stale_workdirs(root)
        process_dir.mkdir(mode=0o700)
    path = process_dir / info_hash
    shutil.rmtree(path, ignore_errors=True)
    return path


def _remove_stale_workdirs(root: Path) -> None:
    """Working folders of mounts whose process is gone (killed, crashed) hold RAM: free it."""
    for folder in root.iterdir():
        is_pid = folder.name.isascii() and folder.name.isdigit()
        if is_pid and not _process_alive(int(folder.name)):
            log.info("removing working files left by process %s", folder.name)
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def punch_piece(layout: TorrentLayout, file_paths: list[Path], piece: int) -> None:
    """Free the bytes of `piece` in the torrent's files (`file_paths`, in the layout's order)."""
    start = piece * layout.piece_length
    end = start + layout.piece_size(piece)
    for file in layout.files:
        overlap_start = max(start, file.offset)
        overlap_end = min(end, file.offset + file.size)
        if overlap_start >= overlap_end or file.is_padding:
            continue
        # A file nobody read from was never created.
        with contextlib.suppress(FileNotFoundError):
            punch_hole(
                file_paths[file.index], overlap_start - file.offset, overlap_end - overlap_start
            )


def punch_hole(path: Path, offset: int, length: int) -> None:
    """Free the bytes [offset, offset + length) of a file, keeping its size (they read as 0)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        result = _libc.fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length)
        if result != 0:
            error = ctypes.get_errno()
            if error != errno.EOPNOTSUPP:
                raise OSError(error, os.strerror(error), str(path))
    finally:
        os.close(fd)
