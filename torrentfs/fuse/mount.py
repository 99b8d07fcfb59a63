"""The life of a single-torrent mount: check, mount, serve until unmounted or signalled,
clean up.

Runs in the foreground. Ends with the FUSE mount gone and the working files
removed whether it stops by `fusermount3 -u`, SIGINT or SIGTERM.
"""

import functools
import logging
from pathlib import Path

import trio

from torrentfs.core.config import NetworkSettings, Settings, StorageMode, working_files_budget
from torrentfs.core.errors import UserError
from torrentfs.core.source import Source
from torrentfs.engine.lifecycle import Background
from torrentfs.engine.session import Session
from torrentfs.engine.storage import Storage
from torrentfs.engine.torrent import Torrent
from torrentfs.fuse.notify import Notifier
from torrentfs.fuse.operations import TorrentOperations
from torrentfs.fuse.serving import (
    Interrupted,
    mount_options,
    prepared_mountpoint,
    serve,
    serve_until_stopped,
    shutdown_signals,
)
from torrentfs.status import one_line
from torrentfs.streaming.content import TorrentContent
from torrentfs.streaming.mount_content import Face, MountPlaces

log = logging.getLogger(__name__)

# How often the terminal hears that the metadata is still on its way.
METADATA_REPORT_INTERVAL_S = 5.0


def fuse_options(source: Source, settings: Settings) -> set[str]:
    """Mount options: read-only, named after the source in `mount` and `df`."""
    return mount_options(source.label, settings.allow_other)


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


def run_mount(
    source: Source, mountpoint: Path, settings: Settings, other_face: Face | None = None
) -> None:
    """Mount `source` at `mountpoint` and serve it until unmounted or signalled; serve
    `other_face` (HTTP) beside it."""
    if not source.has_metadata:
        metadata_sources(source, settings.network)
    mountpoint = prepared_mountpoint(mountpoint, settings.force)
    storage = Storage(settings.storage.mode, settings.storage.cache_dir)
    try:
        with shutdown_signals(), Session(settings.network) as session:
            torrent = session.add_torrent(
                source,
                storage,
                Background(settings.storage.download_all, settings.idle.download_all_while_idle),
                working_files_budget(settings),
            )
            content = TorrentContent(torrent, settings)
            tasks = functools.partial(
                _serve, session, torrent, content, source, mountpoint, settings, other_face
            )
            serve(TorrentOperations(content), mountpoint, fuse_options(source, settings), tasks)
    except Interrupted:
        log.info("stopped by a signal before the mount was up")
    finally:
        storage.close()


async def _serve(
    session: Session,
    torrent: Torrent,
    content: TorrentContent,
    source: Source,
    mountpoint: Path,
    settings: Settings,
    other_face: Face | None,
    nursery: trio.Nursery,
    notifier: Notifier,
) -> None:
    log.info("mounted %s at %s", source.label, mountpoint)
    if other_face is not None:
        nursery.start_soon(other_face, MountPlaces(content, mountpoint))
    if not torrent.status()["has_metadata"]:
        log.info("fetching metadata from %s", metadata_sources(source, settings.network))
        nursery.start_soon(_report_metadata_wait, torrent, content)
    nursery.start_soon(session.run)
    nursery.start_soon(content.run)
    if settings.storage.mode is StorageMode.DISK:
        nursery.start_soon(_save_resume_periodically, torrent, settings)
    torrent.start(content)
    await serve_until_stopped(nursery, mountpoint, lambda: one_line(content.status()), notifier)
    # The alert pump still runs: the last resume data can be written.
    await torrent.save_resume_data()


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
