"""One runtime for every mount and every face: what a single torrent or a library is, built
once, with its background work; the faces (FUSE, HTTP) only translate.

`single_torrent` and `library` build the session, the storage, the content the faces read
(`TorrentContent` or `Library`), and the work that runs beside them: the session's alert
pump, the content's own loops, resume data saved every `--resume-save-interval` in disk
mode (for a library's torrents in the session too) and once more at the end, and the
metadata's progress in the log. rclone works the same way: one VFS under `mount` and
`serve`.
"""

import contextlib
import gc
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trio

from torrentfs.core.config import NetworkSettings, Settings, StorageMode, working_files_budget
from torrentfs.core.errors import UserError
from torrentfs.core.source import Source
from torrentfs.engine.lifecycle import Background
from torrentfs.engine.session import Session
from torrentfs.engine.storage import Storage, disk_cache_root
from torrentfs.engine.torrent import Torrent
from torrentfs.status import library_line, one_line
from torrentfs.streaming.content import TorrentContent
from torrentfs.streaming.library import Library
from torrentfs.streaming.library_torrent import LibraryTorrent
from torrentfs.streaming.mount_content import MountContent, MountPlaces
from torrentfs.streaming.symlinks import SymlinkMirror

log = logging.getLogger(__name__)

# How often the terminal hears that the metadata is still on its way.
METADATA_REPORT_INTERVAL_S = 5.0
# Under the cache folder: the metadata of the library's magnets.
METADATA_FOLDER = "metadata"


@dataclass
class Runtime:
    """A mount's content and the work beside it, for the faces to serve."""

    content: MountContent
    # What `mount` and `df` show the mount as.
    label: str
    session: Session
    settings: Settings
    status_line: Callable[[], str]
    # A library mount's library (the FUSE face tells its tree what the kernel caches).
    library: Library | None = None
    single: tuple[Torrent, TorrentContent, Source] | None = None

    def places(self, mountpoint: Path) -> MountPlaces:
        if self.library is not None:
            return MountPlaces(
                self.library, mountpoint, self.library.watch_folder, self.library.symlink_dir
            )
        return MountPlaces(self.content, mountpoint)

    async def run(self, nursery: trio.Nursery) -> None:
        """Start the background work in `nursery`, and the torrent of a single mount."""
        nursery.start_soon(self.session.run)
        if self.settings.storage.mode is StorageMode.DISK:
            nursery.start_soon(self._save_resume_periodically)
        if self.library is not None:
            nursery.start_soon(self.library.run)
            return
        assert self.single is not None
        torrent, content, source = self.single
        if not torrent.status()["has_metadata"]:
            log.info("fetching metadata from %s", metadata_sources(source, self.settings.network))
            nursery.start_soon(_report_metadata_wait, torrent, content)
        nursery.start_soon(content.run)
        torrent.start(content)

    async def finish(self) -> None:
        """The last resume data, while the alert pump still runs."""
        await self._save_resume_data()

    async def _save_resume_periodically(self) -> None:
        while True:
            await trio.sleep(self.settings.storage.resume_save_interval_s)
            await self._save_resume_data()

    async def _save_resume_data(self) -> None:
        # A library's torrents out of the session kept theirs when they left.
        for torrent in self.session.torrents():
            if torrent.in_session:
                await torrent.save_resume_data()


@contextlib.contextmanager
def single_torrent(source: Source, settings: Settings) -> Iterator[Runtime]:
    """The runtime of one torrent; its storage is closed on the way out."""
    storage = Storage(settings.storage.mode, settings.storage.cache_dir)
    try:
        with Session(settings.network) as session:
            torrent = session.add_torrent(
                source,
                storage,
                Background(settings.storage.download_all, settings.idle.download_all_while_idle),
                working_files_budget(settings),
            )
            content = TorrentContent(torrent, settings)
            yield Runtime(
                content,
                source.label,
                session,
                settings,
                lambda: one_line(content.status()),
                single=(torrent, content, source),
            )
    finally:
        storage.close()


@contextlib.contextmanager
def library(watch_folder: Path, mountpoint: Path, settings: Settings) -> Iterator[Runtime]:
    """The runtime of a watch folder's torrents; their storages are closed on the way out."""
    with Session(settings.network) as session:
        torrents = _LibrarySession(session, settings)
        try:
            cache = settings.storage.cache_dir or disk_cache_root()
            links = _symlink_mirror(settings, mountpoint)
            shelf = Library(watch_folder, torrents, settings, cache / METADATA_FOLDER, links)
            # The library's objects live as long as the mount: out of the collector's
            # sight, or every full collection walks them all (with 10 000 torrents,
            # `find` over the mount took 24 times as long as with 1 000).
            gc.freeze()
            yield Runtime(
                shelf,
                watch_folder.name,
                session,
                settings,
                lambda: library_line(shelf.status(every_torrent=False)),
                library=shelf,
            )
        finally:
            torrents.close()


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


class _LibrarySession:
    """The engine's session as the library uses it: a storage folder per torrent."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings
        self._storages: dict[str, Storage] = {}

    def add(self, source: Source) -> LibraryTorrent:
        settings = self._settings
        storage = Storage(settings.storage.mode, settings.storage.cache_dir)
        torrent = self._session.add_torrent(
            source,
            storage,
            Background(settings.storage.download_all, settings.idle.download_all_while_idle),
            # No budget on disk without --disk-limit.
            self._working_files_share if working_files_budget(settings) is not None else None,
            leaves_when_disconnected=True,
        )
        self._storages[torrent.info_hash] = storage
        return torrent

    def _working_files_share(self) -> int:
        """Each torrent's share of the working files' budget: one of as many slots as
        torrents can be in the session at once (--max-active, or fewer torrents), so those
        in it stay within the budget together (one that leaves frees its RAM)."""
        budget = working_files_budget(self._settings)
        assert budget is not None
        slots = min(self._settings.max_active_torrents, max(1, len(self._storages)))
        return budget // slots

    def remove(self, torrent: LibraryTorrent) -> None:
        assert isinstance(torrent, Torrent)
        self._session.remove_torrent(torrent)
        storage = self._storages.pop(torrent.info_hash, None)
        if storage is not None:
            storage.close()

    def close(self) -> None:
        for storage in self._storages.values():
            storage.close()


def _symlink_mirror(settings: Settings, mountpoint: Path) -> SymlinkMirror | None:
    """--symlink-dir's mirror; raises UserError if its folder cannot be made."""
    if settings.symlink_dir is None:
        return None
    try:
        return SymlinkMirror(settings.symlink_dir, mountpoint)
    except OSError as error:
        raise UserError(
            f"cannot make --symlink-dir {settings.symlink_dir}: {error.strerror}"
        ) from None


async def _report_metadata_wait(torrent: Torrent, content: TorrentContent) -> None:
    while True:
        with trio.move_on_after(METADATA_REPORT_INTERVAL_S):
            await content.metadata_known.wait()
            return
        log.info("still waiting for metadata: %d peers connected", torrent.status()["peers"])
