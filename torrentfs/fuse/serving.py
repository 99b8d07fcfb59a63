"""What every mount does around its content: check the mountpoint, mount, serve until
unmounted or signalled, and unmount.

`prepared_mountpoint` checks and resolves the mountpoint, `shutdown_signals`
turns SIGINT/SIGTERM before the loop starts into `Interrupted`, and `serve`
mounts the operations and runs the trio loop: the mount's own tasks plus
the signal and unmount watchers and the systemd notifications.
"""

import contextlib
import errno
import logging
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType

import pyfuse3
import trio

from torrentfs.core import mountinfo
from torrentfs.core.errors import UserError
from torrentfs.fuse.operations import TorrentOperations
from torrentfs.systemd_notify import Notifier

log = logging.getLogger(__name__)

# How often systemd gets a fresh STATUS= line.
STATUS_NOTIFY_INTERVAL_S = 5.0
# How often the mount table is read to notice an unmount.
UNMOUNT_CHECK_INTERVAL_S = 1.0
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How our mounts appear in /proc/self/mountinfo (type "fuse", subtype "torrentfs").
FUSE_TYPE = "fuse.torrentfs"
FUSE_DEVICE = Path("/dev/fuse")
FUSE_CONTAINER_HINT = "docker run --device /dev/fuse --cap-add SYS_ADMIN"

# The mount's own work once mounted: started with the nursery, it returns after
# the FUSE loop (`serve_until_stopped`) does.
MountTasks = Callable[[trio.Nursery, Notifier], Awaitable[None]]


def mount_options(label: str, allow_other: bool) -> set[str]:
    """Mount options: read-only, named `torrentfs:label` in `mount` and `df`."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", label)[:64]
    options = {"ro", "default_permissions", f"fsname=torrentfs:{safe}", "subtype=torrentfs"}
    if allow_other:
        options.add("allow_other")
    return options


def prepared_mountpoint(mountpoint: Path, force: bool) -> Path:
    """Check FUSE and the mountpoint (UserError if unusable); the mountpoint as the mount
    table names it, resolved before mounting: a lookup under the mount would wait for this
    very process to answer."""
    check_fuse_device()
    check_mountpoint(mountpoint, force)
    return Path(os.path.realpath(mountpoint))


@contextlib.contextmanager
def shutdown_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` until trio takes them over."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in SHUTDOWN_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(
    operations: TorrentOperations, mountpoint: Path, options: set[str], tasks: MountTasks
) -> None:
    """Mount `operations` and run `tasks` under trio until unmounted or signalled."""
    _init_fuse(operations, mountpoint, options)
    try:
        with Notifier() as notifier:
            trio.run(_run_tasks, tasks, notifier)
    finally:
        pyfuse3.close(unmount=True)
        log.info("unmounted %s", mountpoint)


async def _run_tasks(tasks: MountTasks, notifier: Notifier) -> None:
    async with trio.open_nursery() as nursery:
        await tasks(nursery, notifier)
        nursery.cancel_scope.cancel()


async def serve_until_stopped(
    nursery: trio.Nursery, mountpoint: Path, status_line: Callable[[], str], notifier: Notifier
) -> None:
    """Answer FUSE requests until a signal or an unmount; then tell systemd we are stopping."""
    fuse_scope = trio.CancelScope()
    nursery.start_soon(_stop_on_signal, fuse_scope)
    nursery.start_soon(_stop_when_unmounted, mountpoint, fuse_scope)
    nursery.start_soon(_notify_systemd, mountpoint, status_line, notifier)
    with fuse_scope:
        await pyfuse3.main()
    notifier.stopping()


class Interrupted(Exception):
    """A shutdown signal arrived before the trio loop took over signals."""


def check_fuse_device(device: Path = FUSE_DEVICE) -> None:
    """Raise UserError if the kernel offers no FUSE device to mount with."""
    if not device.exists():
        raise UserError(
            f"no {device}: load the FUSE module with 'modprobe fuse'; in a container, "
            f"pass the device ({FUSE_CONTAINER_HINT})"
        )


def check_mountpoint(mountpoint: Path, force: bool = False) -> None:
    """Raise UserError unless `mountpoint` is an empty directory that is not mounted.

    A stale mount left by a killed torrentfs is cleared first (its daemon is gone, so
    nobody can be using it: a service restarted after `kill -9` comes back by itself);
    a stale mount of another file system only with `force`.
    """
    try:
        if not mountpoint.is_dir():
            if mountpoint.exists():
                raise UserError(f"mountpoint {mountpoint} is not a directory")
            raise UserError(f"mountpoint {mountpoint} does not exist: create it with mkdir")
        if os.path.ismount(mountpoint):
            if is_torrentfs_mount(os.path.realpath(mountpoint)):
                # The kernel may answer `stat` from its cache for a dead mount;
                # statfs always asks the daemon, and a stale mount fails it.
                os.statvfs(mountpoint)
                raise UserError(
                    f"{mountpoint} is already a torrentfs mount: "
                    f"unmount it first with 'fusermount3 -u {mountpoint}'"
                )
            raise UserError(f"{mountpoint} is already a mount point: unmount it first")
        if any(mountpoint.iterdir()):
            raise UserError(f"mountpoint {mountpoint} is not empty: use an empty directory")
    except OSError as error:
        if error.errno != errno.ENOTCONN:
            raise UserError(f"cannot use mountpoint {mountpoint}: {error.strerror}") from None
        if not force and not is_torrentfs_mount(os.path.realpath(mountpoint)):
            raise UserError(
                f"{mountpoint} is a stale mount (transport endpoint is not connected): "
                f"clear it with 'fusermount3 -u {mountpoint}', or mount with --force"
            ) from None
        _clear_stale_mount(mountpoint)
        check_mountpoint(mountpoint)


def _clear_stale_mount(mountpoint: Path) -> None:
    log.warning("clearing the stale mount at %s: the torrentfs that served it is gone", mountpoint)
    result = subprocess.run(
        ["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UserError(f"could not clear the stale mount at {mountpoint}: {result.stderr.strip()}")


def is_torrentfs_mount(real_mountpoint: str) -> bool:
    return FUSE_TYPE in mountinfo.types_mounted_at(real_mountpoint, mountinfo.read())


def _init_fuse(operations: TorrentOperations, mountpoint: Path, options: set[str]) -> None:
    """pyfuse3.init, with libfuse's own complaint (written to fd 2) in the one-line error."""
    with tempfile.TemporaryFile() as complaint:
        try:
            with _stderr_to(complaint.fileno()):
                pyfuse3.init(operations, str(mountpoint), options)
        except RuntimeError:
            complaint.seek(0)
            said = " ".join(complaint.read().decode(errors="replace").split())
            raise UserError(
                f"cannot mount {mountpoint}: {said or 'FUSE refused'} (FUSE needs root, or "
                f"fusermount3 installed setuid root; in a container, {FUSE_CONTAINER_HINT})"
            ) from None


@contextlib.contextmanager
def _stderr_to(fd: int) -> Iterator[None]:
    saved = os.dup(2)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


async def _stop_on_signal(fuse_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        async for signum in signals:
            log.info("%s: unmounting", signal.Signals(signum).name)
            pyfuse3.terminate()
            # Reads blocked on pieces would keep the FUSE loop alive; end them.
            fuse_scope.cancel()
            return


async def _stop_when_unmounted(mountpoint: Path, fuse_scope: trio.CancelScope) -> None:
    """End the FUSE loop once the mount is gone, as after `fusermount3 -u`.

    pyfuse3 returns only when every request is answered, and a read the
    kernel abandoned (its reader was killed) may wait for its pieces for
    good: the process would outlive its mount.
    """
    while is_torrentfs_mount(str(mountpoint)):
        await trio.sleep(UNMOUNT_CHECK_INTERVAL_S)
    log.info("%s was unmounted", mountpoint)
    fuse_scope.cancel()


async def _notify_systemd(
    mountpoint: Path, status_line: Callable[[], str], notifier: Notifier
) -> None:
    """READY=1 once the mount answers `stat` (so what starts after it finds the files), then
    a STATUS= summary every few seconds."""
    await trio.to_thread.run_sync(os.stat, mountpoint, abandon_on_cancel=True)
    log.info("ready: %s answers", mountpoint)
    notifier.ready()
    while True:
        notifier.status(status_line())
        await trio.sleep(STATUS_NOTIFY_INTERVAL_S)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted
