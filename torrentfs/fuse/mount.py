"""The life of a mount: check, mount, serve until unmounted or signalled, clean up.

Runs in the foreground. Ends with the FUSE mount gone and the working files
removed whether it stops by `fusermount3 -u`, SIGINT or SIGTERM.
"""

import contextlib
import errno
import logging
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pyfuse3
import trio

from torrentfs.core import mountinfo
from torrentfs.core.config import NetworkSettings, Settings, StorageMode, working_files_budget
from torrentfs.core.errors import UserError
from torrentfs.core.source import Source
from torrentfs.engine.lifecycle import Background
from torrentfs.engine.session import Session
from torrentfs.engine.storage import Storage
from torrentfs.engine.torrent import Torrent
from torrentfs.fuse.notify import Notifier
from torrentfs.fuse.operations import TorrentOperations
from torrentfs.status import one_line
from torrentfs.streaming.content import TorrentContent

log = logging.getLogger(__name__)

# How often the terminal hears that the metadata is still on its way.
METADATA_REPORT_INTERVAL_S = 5.0
# How often systemd gets a fresh STATUS= line.
STATUS_NOTIFY_INTERVAL_S = 5.0
# How often the mount table is read to notice an unmount.
UNMOUNT_CHECK_INTERVAL_S = 1.0
_SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How our mounts appear in /proc/self/mountinfo (type "fuse", subtype "torrentfs").
FUSE_TYPE = "fuse.torrentfs"
FUSE_DEVICE = Path("/dev/fuse")
FUSE_CONTAINER_HINT = "docker run --device /dev/fuse --cap-add SYS_ADMIN"


class _Interrupted(Exception):
    """A shutdown signal arrived before the trio loop took over signals."""


def fuse_options(source: Source, settings: Settings) -> set[str]:
    """Mount options: read-only, named after the source in `mount` and `df`."""
    label = re.sub(r"[^A-Za-z0-9._-]", "_", source.label)[:64]
    options = {"ro", "default_permissions", f"fsname=torrentfs:{label}", "subtype=torrentfs"}
    if settings.allow_other:
        options.add("allow_other")
    return options


def metadata_sources(source: Source, network: NetworkSettings) -> str:
    """Where the metadata of a source without it can come from, as the log says it.

    Raises UserError when nothing could ever send it.
    """
    places = []
    peers = [*source.peers, *network.peers]
    if peers:
        places.append("peers " + ", ".join(map(str, peers)))
    trackers = [*source.trackers, *network.trackers]
    if trackers:
        places.append("trackers " + ", ".join(trackers))
    if network.dht:
        places.append("the DHT")
    if not places:
        raise UserError(
            f"{source.label}: nothing can send its metadata with --no-dht and no peer or "
            "tracker: give --peer or --tracker, use the DHT, or mount the .torrent file"
        )
    return " and ".join(places)


def check_fuse_device(device: Path = FUSE_DEVICE) -> None:
    """Raise UserError if the kernel offers no FUSE device to mount with."""
    if not device.exists():
        raise UserError(
            f"no {device}: load the FUSE module with 'modprobe fuse'; in a container, "
            f"pass the device ({FUSE_CONTAINER_HINT})"
        )


def check_mountpoint(mountpoint: Path, force: bool = False) -> None:
    """Raise UserError unless `mountpoint` is an empty directory that is not mounted.

    With `force`, a stale mount left by a killed torrentfs is cleared first.
    """
    try:
        if not mountpoint.is_dir():
            if mountpoint.exists():
                raise UserError(f"mountpoint {mountpoint} is not a directory")
            raise UserError(f"mountpoint {mountpoint} does not exist: create it with mkdir")
        if os.path.ismount(mountpoint):
            if _is_torrentfs_mount(os.path.realpath(mountpoint)):
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
        if not force:
            raise UserError(
                f"{mountpoint} is a stale mount (transport endpoint is not connected): "
                f"clear it with 'fusermount3 -u {mountpoint}', or mount with --force"
            ) from None
        _clear_stale_mount(mountpoint)
        check_mountpoint(mountpoint)


def _clear_stale_mount(mountpoint: Path) -> None:
    log.warning("clearing the stale mount at %s (--force)", mountpoint)
    result = subprocess.run(
        ["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UserError(f"could not clear the stale mount at {mountpoint}: {result.stderr.strip()}")


def _is_torrentfs_mount(real_mountpoint: str) -> bool:
    return FUSE_TYPE in mountinfo.types_mounted_at(real_mountpoint, mountinfo.read())


def run_mount(source: Source, mountpoint: Path, settings: Settings) -> None:
    """Mount `source` at `mountpoint` and serve it until unmounted or signalled."""
    if not source.has_metadata:
        metadata_sources(source, settings.network)
    check_fuse_device()
    check_mountpoint(mountpoint, settings.force)
    # As the mount table names it. Resolved before mounting: a lookup under
    # the mount would wait for this very process to answer.
    mountpoint = Path(os.path.realpath(mountpoint))
    previous_handlers = {sig: signal.signal(sig, _raise_interrupted) for sig in _SHUTDOWN_SIGNALS}
    storage = Storage(settings.storage.mode, settings.storage.cache_dir)
    try:
        with Session(settings.network) as session:
            torrent = session.add_torrent(
                source,
                storage,
                Background(settings.storage.download_all, settings.idle.download_all_while_idle),
                working_files_budget(settings),
            )
            _serve_mounted(session, torrent, source, mountpoint, settings)
    except _Interrupted:
        log.info("stopped by a signal before the mount was up")
    finally:
        storage.close()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _serve_mounted(
    session: Session, torrent: Torrent, source: Source, mountpoint: Path, settings: Settings
) -> None:
    content = TorrentContent(torrent, settings)
    _init_fuse(TorrentOperations(content), mountpoint, fuse_options(source, settings))
    try:
        with Notifier() as notifier:
            trio.run(_serve, session, torrent, content, source, mountpoint, settings, notifier)
    finally:
        pyfuse3.close(unmount=True)
        log.info("unmounted %s", mountpoint)


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


async def _serve(
    session: Session,
    torrent: Torrent,
    content: TorrentContent,
    source: Source,
    mountpoint: Path,
    settings: Settings,
    notifier: Notifier,
) -> None:
    log.info("mounted %s at %s", source.label, mountpoint)
    fuse_scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        if not torrent.status()["has_metadata"]:
            log.info("fetching metadata from %s", metadata_sources(source, settings.network))
            nursery.start_soon(_report_metadata_wait, torrent, content)
        nursery.start_soon(session.run)
        nursery.start_soon(content.run)
        nursery.start_soon(_stop_on_signal, fuse_scope)
        nursery.start_soon(_stop_when_unmounted, mountpoint, fuse_scope)
        if settings.storage.mode is StorageMode.DISK:
            nursery.start_soon(_save_resume_periodically, torrent, settings)
        nursery.start_soon(_notify_systemd, mountpoint, content, notifier)
        torrent.start(content)
        with fuse_scope:
            await pyfuse3.main()
        notifier.stopping()
        # The alert pump still runs: the last resume data can be written.
        await torrent.save_resume_data()
        nursery.cancel_scope.cancel()


async def _stop_on_signal(fuse_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(*_SHUTDOWN_SIGNALS) as signals:
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
    while _is_torrentfs_mount(str(mountpoint)):
        await trio.sleep(UNMOUNT_CHECK_INTERVAL_S)
    log.info("%s was unmounted", mountpoint)
    fuse_scope.cancel()


async def _notify_systemd(mountpoint: Path, content: TorrentContent, notifier: Notifier) -> None:
    """READY=1 once the mount answers `stat` (so what starts after it finds the files), then
    a STATUS= summary every few seconds."""
    await trio.to_thread.run_sync(os.stat, mountpoint, abandon_on_cancel=True)
    log.info("ready: %s answers", mountpoint)
    notifier.ready()
    while True:
        notifier.status(one_line(content.status()))
        await trio.sleep(STATUS_NOTIFY_INTERVAL_S)


async def _save_resume_periodically(torrent: Torrent, settings: Settings) -> None:
    while True:
        await trio.sleep(settings.storage.resume_save_interval_s)
        await torrent.save_resume_data()


async def _report_metadata_wait(torrent: Torrent, content: TorrentContent) -> None:
    while True:
        with trio.move_on_after(METADATA_REPORT_INTERVAL_S):
            await content.metadata_known.wait()
            return
        log.info("still waiting for metadata: %d peers connected", torrent.status()["peers"])


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted
