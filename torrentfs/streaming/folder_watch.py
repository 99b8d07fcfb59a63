"""Following a watch folder: which paths below it changed, as the kernel tells it (inotify).

`FolderWatch` watches the folder and every subfolder below it, and hands the
library the paths (from the watch folder) that something happened to, so it
looks at those alone: following a folder of 10 000 torrents by listing it
every half second cost most of a core. It never says what happened; the
library looks (`core.watch_folder.rescan`). When the kernel's queue
overflowed, or a watch could not be added, it answers None: look at
everything again.
"""

import ctypes
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from torrentfs.core.inotify_events import (
    FOLDER_MASK,
    IN_CLOEXEC,
    IN_IGNORED,
    IN_MOVED_FROM,
    IN_NONBLOCK,
    IN_Q_OVERFLOW,
    InotifyEvent,
    parse_events,
)
from torrentfs.core.watch_folder import FolderChanges, Stamp, below, changes, rescan, scan

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(None, use_errno=True)
# Enough for a few hundred events in one read; more wait for the next.
READ_BYTES = 64 << 10
# After the first event, how long to gather the rest of a burst (a file moved between
# subfolders is two events; seen together, its torrent moves instead of leaving).
SETTLE_S = 0.05
# A safety net under inotify: the whole folder is listed again this often.
RESCAN_INTERVAL_S = 60.0
# Where inotify cannot be used: how often the folder is listed (a file shows within this).
POLL_INTERVAL_S = 0.5


class FolderWatch:
    """inotify on a folder tree; from construction until `close()`."""

    def __init__(self, folder: Path) -> None:
        """Raises OSError if inotify cannot be used (the caller lists the folder instead)."""
        self._folder = folder
        self._fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise _os_error()
        # Watch descriptor -> the path of its folder from the watch folder ("" for it).
        self._paths: dict[int, str] = {}
        # A watch that could not be added: some changes will be missed, so look everywhere.
        self._incomplete = False
        self.watch("")

    def watch(self, path: str) -> None:
        """Watch `path` (a folder, from the watch folder) and every folder below it."""
        for current, folders, _files in os.walk(self._folder / path):
            folders[:] = [name for name in folders if not name.startswith(".")]
            relative = os.path.relpath(current, self._folder)
            self._add(relative if relative != "." else "")

    async def changed(self) -> set[str] | None:
        """Wait for changes; the paths they touched, or None to look at everything."""
        await trio.lowlevel.wait_readable(self._fd)
        await trio.sleep(SETTLE_S)
        paths: set[str] = set()
        overflowed = False
        for event in self._read():
            if event.mask & IN_Q_OVERFLOW:
                overflowed = True
                continue
            folder = self._paths.get(event.watch)
            if folder is None:
                continue
            if event.mask & IN_IGNORED:
                del self._paths[event.watch]
                continue
            if not event.name:
                continue  # about the watched folder itself; its parent's watch says it too
            path = f"{folder}/{event.name}" if folder else event.name
            paths.add(path)
            if event.is_dir and event.mask & IN_MOVED_FROM:
                self._forget(path)
            elif event.is_dir:
                self.watch(path)
        if overflowed or self._incomplete:
            self._incomplete = False
            log.info("the watch folder changed faster than it was followed: looking at all of it")
            return None
        return paths

    def close(self) -> None:
        os.close(self._fd)

    def _add(self, path: str) -> None:
        watch = _libc.inotify_add_watch(self._fd, os.fsencode(self._folder / path), FOLDER_MASK)
        if watch < 0:
            error = _os_error()
            if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                log.warning("cannot follow %s: %s", self._folder / path, error.strerror)
                self._incomplete = True
            return
        self._paths[watch] = path

    def _forget(self, path: str) -> None:
        """Stop watching `path` and below: it moved away (a move back is watched anew)."""
        prefix = path + "/"
        for watch, folder in list(self._paths.items()):
            if folder == path or folder.startswith(prefix):
                _libc.inotify_rm_watch(self._fd, watch)
                del self._paths[watch]

    def _read(self) -> list[InotifyEvent]:
        try:
            return parse_events(os.read(self._fd, READ_BYTES))
        except BlockingIOError:
            return []


def _os_error() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


async def follow(
    folder: Path, seen: dict[str, Stamp], apply: Callable[[FolderChanges], Awaitable[None]]
) -> None:
    """Until cancelled: tell `apply` what changed below `folder` since `seen` (kept up to
    date here). The kernel says where to look; everything is looked at again every
    `RESCAN_INTERVAL_S` all the same, and every `POLL_INTERVAL_S` where inotify is
    missing."""
    try:
        watch: FolderWatch | None = FolderWatch(folder)
    except OSError as error:
        log.warning(
            "cannot follow %s with inotify (%s): listing it every %.1f s",
            folder,
            error.strerror,
            POLL_INTERVAL_S,
        )
        watch = None
    unreadable = False
    try:
        while True:
            paths: set[str] | None = None
            interval_s = RESCAN_INTERVAL_S if watch is not None else POLL_INTERVAL_S
            with trio.move_on_after(interval_s):
                if watch is not None:
                    paths = await watch.changed()
                else:
                    await trio.sleep_forever()
            if paths is not None:
                # Folders are listed on a worker thread: a slow disk must not hold up FUSE.
                for path in sorted(paths):
                    now = await trio.to_thread.run_sync(rescan, folder, path)
                    await apply(changes(below(seen, path), _update(seen, path, now)))
                continue
            try:
                now = await trio.to_thread.run_sync(scan, folder)
            except OSError as error:
                # Once, not at every scan; what it lists stays listed meanwhile.
                if not unreadable:
                    log.warning("cannot read the watch folder: %s", error.strerror)
                unreadable = True
                continue
            unreadable = False
            found = changes(seen, now)
            seen.clear()
            seen.update(now)
            await apply(found)
    finally:
        if watch is not None:
            watch.close()


def _update(seen: dict[str, Stamp], path: str, now: dict[str, Stamp]) -> dict[str, Stamp]:
    """Make `seen` hold `now` for `path` and below it; returns `now`."""
    for name in below(seen, path):
        del seen[name]
    seen.update(now)
    return now
