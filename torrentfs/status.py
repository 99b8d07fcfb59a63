"""`torrentfs status MOUNTPOINT`: what a running mount is doing, read from the mount itself.

The mount serves its status as JSON in a hidden file at its root
(`core.status_schema.STATUS_FILE`), so no socket or port is needed; this
module reads it and formats it for people (`format_status`, pure) or prints
it as is (`--json`).
"""

import errno
import json
import os
from collections import Counter
from pathlib import Path
from typing import cast

from torrentfs.core.errors import UserError
from torrentfs.core.status_schema import (
    STATUS_FILE,
    LibraryStatus,
    MountStatus,
    ReaderStatus,
)

MB = 1e6
# The key only a library's status has.
LIBRARY_KEY = "watch_folder"
MIB = 1 << 20


def read_status(mountpoint: Path) -> MountStatus:
    """The status a single-torrent mount publishes; raises UserError if there is none."""
    return cast(MountStatus, _read(mountpoint))


def read_library_status(mountpoint: Path) -> LibraryStatus:
    """The status a library mount publishes; raises UserError if it is not a library."""
    status = _read(mountpoint)
    if LIBRARY_KEY not in status:
        raise UserError(f"{mountpoint} is a torrentfs mount of one torrent, not a library")
    return cast(LibraryStatus, status)


def _read(mountpoint: Path) -> dict[str, object]:
    try:
        os.stat(mountpoint)
        raw = (mountpoint / STATUS_FILE).read_bytes()
    except FileNotFoundError:
        if not mountpoint.exists():
            raise UserError(f"{mountpoint} does not exist") from None
        raise UserError(f"{mountpoint} is not a torrentfs mount") from None
    except OSError as error:
        if error.errno == errno.ENOTCONN:
            raise UserError(
                f"{mountpoint} is a stale mount (its torrentfs is gone): "
                f"clear it with 'fusermount3 -u {mountpoint}'"
            ) from None
        if error.errno in (errno.ENOTDIR, errno.EACCES):
            raise UserError(f"{mountpoint} is not a torrentfs mount") from None
        raise UserError(f"cannot read the status of {mountpoint}: {error.strerror}") from None
    try:
        return cast(dict[str, object], json.loads(raw))
    except ValueError:
        raise UserError(f"{mountpoint} is not a torrentfs mount") from None


def show_status(mountpoint: Path, as_json: bool, every_torrent: bool = False) -> int:
    status = _read(mountpoint)
    if as_json:
        print(json.dumps(status, indent=2))
    elif LIBRARY_KEY in status:
        print(format_library(cast(LibraryStatus, status), every_torrent))
    else:
        print(format_status(cast(MountStatus, status)))
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
        lines.append(f"working     {working / MIB:.1f} MiB in libtorrent's files")
    if "held_bytes" in status:
        lines.append(
            f"held        {status['held_bytes'] / MIB:.1f} MiB of the torrent here, "
            f"{status.get('memory_bytes', 0) / MIB:.1f} MiB of RAM "
            f"({status.get('held_twice_bytes', 0) / MIB:.1f} MiB of it in both store and files)"
        )
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


def format_library(status: LibraryStatus, every_torrent: bool = False) -> str:
    """A line per torrent in the swarm (every torrent with `every_torrent`), the rest
    counted by state, then the files the library could not use."""
    torrents = status["torrents"]
    lines = [f"library of {status['watch_folder']}: {len(torrents)} torrents"]
    elsewhere: Counter[str] = Counter()
    for torrent in torrents:
        mount = torrent["status"]
        if mount is None and not every_torrent:
            elsewhere[torrent["state"]] += 1
            continue
        line = f"  {torrent['folder']}  {torrent['state']}"
        if mount is not None:
            line += (
                f", {mount['download_rate'] / MB:.1f} MB/s down, {mount['peers']} peers, "
                f"{len(mount.get('open_files') or [])} open files, "
                f"{mount.get('held_bytes', 0) / MIB:.0f} MiB held, "
                f"{mount.get('memory_bytes', 0) / MIB:.0f} MiB of RAM"
            )
        lines.append(line)
    if elsewhere:
        counts = ", ".join(f"{count} {state}" for state, count in sorted(elsewhere.items()))
        lines.append(f"  out of the swarm: {counts} (--all lists them)")
    for rejected in status["rejected"]:
        lines.append(f"  rejected {rejected['file']}: {rejected['reason']}")
    return "\n".join(lines)


def library_line(status: LibraryStatus) -> str:
    """The summary systemd shows for a library."""
    active = [t["status"] for t in status["torrents"] if t["status"] is not None]
    rate = sum(mount["download_rate"] for mount in active)
    held = sum(mount.get("held_bytes", 0) for mount in active)
    memory = sum(mount.get("memory_bytes", 0) for mount in active)
    line = (
        f"{status['torrent_count']} torrents, {len(active)} active, {rate / MB:.1f} MB/s down, "
        f"{held / MIB:.0f} MiB held, {memory / MIB:.0f} MiB of RAM"
    )
    if status["rejected"]:
        line += f", {len(status['rejected'])} files rejected"
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
