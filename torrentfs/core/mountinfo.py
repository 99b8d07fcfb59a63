"""What is mounted where, read from /proc/self/mountinfo.

The parsing is pure; `read()` is the one place that touches the file. Paths
are compared as the kernel writes them: absolute and free of symlinks.
"""

import re
from pathlib import Path

MOUNTINFO_PATH = Path("/proc/self/mountinfo")
# The kernel writes space, tab, newline and backslash in paths as octal escapes.
_ESCAPE = re.compile(r"\\([0-7]{3})")


def read() -> str:
    return MOUNTINFO_PATH.read_text()


def mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) for each line, in mount order."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        mount_point = _ESCAPE.sub(lambda match: chr(int(match[1], 8)), fields[4])
        found.append((mount_point, fields[fields.index("-") + 1]))
    return found


def filesystem_type(real_path: str, mountinfo: str) -> str | None:
    """The type of the filesystem holding `real_path`: that of its deepest mount."""
    best, best_type = "", None
    for mount_point, fs_type in mounts(mountinfo):
        inside = real_path == mount_point or real_path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fs_type
    return best_type


def types_mounted_at(real_path: str, mountinfo: str) -> list[str]:
    """The types of the filesystems mounted exactly at `real_path`, oldest first."""
    return [fs_type for mount_point, fs_type in mounts(mountinfo) if mount_point == real_path]
