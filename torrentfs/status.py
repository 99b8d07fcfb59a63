"""`torrentfs status MOUNTPOINT`: what a running mount is doing, read from the mount itself.

The mount publishes its status as JSON in the root's `user.torrentfs.status`
extended attribute, so no socket or port is needed; this module reads it and
formats it for people (`format_status`, pure) or prints it as is (`--json`).
"""

import errno
import json
import os
from pathlib import Path
from typing import cast

from torrentfs.core.errors import UserError
from torrentfs.core.status_schema import STATUS_XATTR, MountStatus, ReaderStatus

MB = 1e6
MIB = 1 << 20


def read_status(mountpoint: Path) -> MountStatus:
    """The status a torrentfs mount publishes; raises UserError if there is none."""
    try:
        raw = os.getxattr(mountpoint, STATUS_XATTR)
    except FileNotFoundError:
        raise UserError(f"{mountpoint} does not exist") from None
    except OSError as error:
        if error.errno == errno.ENOTCONN:
            raise UserError(
                f"{mountpoint} is a stale mount (its torrentfs is gone): "
                f"clear it with 'fusermount3 -u {mountpoint}'"
            ) from None
        if error.errno in (errno.ENODATA, errno.ENOTSUP):
            raise UserError(f"{mountpoint} is not a torrentfs mount") from None
        raise UserError(f"cannot read the status of {mountpoint}: {error.strerror}") from None
    return cast(MountStatus, json.loads(raw))


def show_status(mountpoint: Path, as_json: bool) -> int:
    status = read_status(mountpoint)
    print(json.dumps(status, indent=2) if as_json else format_status(status))
    return 0


def format_status(status: MountStatus) -> str:
    """A few lines a person can read at a glance."""
    name = status.get("name") or "(name not known yet)"
    lines = [
        f"{name}  {status['info_hash']}",
        f"state       {status['state']}",
        f"network     down {status['download_rate'] / MB:.1f} MB/s, "
        f"up {status['upload_rate'] / MB:.1f} MB/s, {status['peers']} peers",
    ]
    store = status.get("store")
    if store is not None:
        lookups = store["hits"] + store["misses"]
        hit_rate = f", {store['hits'] / lookups:.0%} of reads from RAM" if lookups else ""
        lines.append(
            f"RAM store   {store['pieces']} pieces, {store['bytes'] / MIB:.1f} of "
            f"{store['budget_bytes'] / MIB:.0f} MiB{hit_rate}"
        )
    working = status.get("working_files_bytes")
    if working is not None:
        lines.append(f"working     {working / MIB:.1f} MiB on tmpfs")
    open_files = status.get("open_files") or []
    lines.append(f"open files  {len(open_files) or 'none'}")
    for entry in open_files:
        lines.append(f"  {entry['path']}: {_reading(entry)}")
    return "\n".join(lines)


def one_line(status: MountStatus) -> str:
    """The summary systemd shows in `systemctl status`."""
    line = (
        f"{status['state']}: {status['download_rate'] / MB:.1f} MB/s down, "
        f"{status['upload_rate'] / MB:.1f} MB/s up, {status['peers']} peers"
    )
    store = status.get("store")
    if store is not None:
        line += f", RAM store {store['bytes'] / MIB:.0f}/{store['budget_bytes'] / MIB:.0f} MiB"
    return line


def _reading(entry: ReaderStatus) -> str:
    parts = [
        f"at {entry['position'] / MB:.1f} MB",
        f"window {entry['window_bytes'] / MIB:.0f} MiB",
        f"{entry['buffered_bytes'] / MB:.1f} MB buffered",
    ]
    buffered_s, rate = entry["buffered_s"], entry["rate_bytes_s"]
    if buffered_s is not None and rate is not None:
        parts[-1] += f" ({buffered_s:.0f} s at {rate / MB:.2f} MB/s)"
    return ", ".join(parts)
