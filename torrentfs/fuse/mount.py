"""A mount's life on the FUSE side: check the mountpoint, build the runtime, mount, serve
until unmounted or signalled, clean up.

Runs in the foreground. Ends with the FUSE mount gone and the working files removed
whether it stops by `fusermount3 -u`, SIGINT or SIGTERM. What is mounted (one torrent or
a library) is the runtime's business (`torrentfs.runtime`); this module only serves it.
"""

import contextlib
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import trio

from torrentfs.core.config import Settings
from torrentfs.fuse.operations import KernelCache, TorrentOperations
from torrentfs.fuse.serving import (
    Interrupted,
    mount_options,
    prepared_mountpoint,
    serve,
    serve_until_stopped,
    shutdown_signals,
)
from torrentfs.runtime import Runtime
from torrentfs.streaming.mount_content import Face
from torrentfs.systemd_notify import Notifier

log = logging.getLogger(__name__)

# Builds the runtime for a mountpoint (a library's symlink mirror points into it).
BuildRuntime = Callable[[Path], contextlib.AbstractContextManager[Runtime]]


def run_mount(
    build: BuildRuntime, mountpoint: Path, settings: Settings, other_face: Face | None = None
) -> None:
    """Mount what `build` makes at `mountpoint` and serve it until unmounted or signalled;
    serve `other_face` (HTTP) beside it."""
    mountpoint = prepared_mountpoint(mountpoint, settings.force)
    try:
        with shutdown_signals(), build(mountpoint) as runtime:
            tasks = functools.partial(_serve, runtime, mountpoint, other_face)
            options = mount_options(runtime.label, settings.allow_other)
            serve(TorrentOperations(runtime.content), mountpoint, options, tasks)
    except Interrupted:
        log.info("stopped by a signal before the mount was up")


async def _serve(
    runtime: Runtime,
    mountpoint: Path,
    other_face: Face | None,
    nursery: trio.Nursery,
    notifier: Notifier,
) -> None:
    log.info("mounted %s at %s", runtime.label, mountpoint)
    if runtime.library is not None:
        # From now on the kernel caches the tree, and hears of what changes in it.
        runtime.library.tree.changes = KernelCache()
    if other_face is not None:
        nursery.start_soon(other_face, runtime.places(mountpoint))
    await runtime.run(nursery)
    await serve_until_stopped(nursery, mountpoint, runtime.status_line, notifier)
    await runtime.finish()
