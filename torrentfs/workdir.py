"""Where libtorrent keeps its working files: a private folder in RAM.

libtorrent's Python bindings cannot use a custom storage (shared/DESIGN.md),
so it writes verified pieces to files. They go to a RAM-backed folder
($XDG_RUNTIME_DIR, else /dev/shm), private to this mount and removed when it
ends.
"""

import os
import shutil
from pathlib import Path

from torrentfs.errors import UserError

_FALLBACK_RAM_DIR = Path("/dev/shm")


def ram_base_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime)
    if _FALLBACK_RAM_DIR.is_dir():
        return _FALLBACK_RAM_DIR
    raise UserError("no RAM-backed folder for working files: set XDG_RUNTIME_DIR or mount /dev/shm")


def workdir_root() -> Path:
    """The folder holding one working folder per running mount of this user."""
    return ram_base_dir() / f"torrentfs-{os.getuid()}"


def create_workdir() -> Path:
    """A new private folder for this process's working files."""
    base = workdir_root()
    base.mkdir(mode=0o700, exist_ok=True)
    path = base / str(os.getpid())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return path


def remove_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
