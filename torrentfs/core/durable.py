"""Files written whole: a crash or `kill -9` leaves the old file or the new one, never a
piece of either (watch-folder files, a magnet's metadata, resume data)."""

import os
import tempfile
from pathlib import Path


def write_whole(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a hidden file in the same folder, on the disk before
    it is renamed over `path`, and the rename itself on the disk. Raises OSError."""
    folder = path.parent
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".", delete=False) as partial:
        try:
            partial.write(data)
            partial.flush()
            os.fsync(partial.fileno())
            os.chmod(partial.name, mode)
        except BaseException:
            os.unlink(partial.name)
            raise
    os.replace(partial.name, path)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
