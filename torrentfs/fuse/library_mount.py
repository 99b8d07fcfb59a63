"""The life of a library mount: a watch folder's torrents, one folder each, in one session."""

import functools
import gc
import logging
from pathlib import Path

import trio

from torrentfs.core.config import Settings, working_files_budget
from torrentfs.core.errors import UserError
from torrentfs.core.source import Source
from torrentfs.engine.lifecycle import Background
from torrentfs.engine.session import Session
from torrentfs.engine.storage import Storage, disk_cache_root
from torrentfs.engine.torrent import Torrent
from torrentfs.fuse.notify import Notifier
from torrentfs.fuse.operations import KernelCache, TorrentOperations
from torrentfs.fuse.serving import (
    Interrupted,
    mount_options,
    prepared_mountpoint,
    serve,
    serve_until_stopped,
    shutdown_signals,
)
from torrentfs.status import library_line
from torrentfs.streaming.library import Library
from torrentfs.streaming.library_torrent import LibraryTorrent
from torrentfs.streaming.mount_content import Face, MountPlaces
from torrentfs.streaming.symlinks import SymlinkMirror

log = logging.getLogger(__name__)

# Under the cache folder: the metadata of the library's magnets.
METADATA_FOLDER = "metadata"


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


def run_library(
    watch_folder: Path, mountpoint: Path, settings: Settings, other_face: Face | None = None
) -> None:
    """Mount the torrents of `watch_folder` at `mountpoint` until unmounted or signalled;
    serve `other_face` (HTTP) beside it."""
    mountpoint = prepared_mountpoint(mountpoint, settings.force)
    with shutdown_signals(), Session(settings.network) as session:
        torrents = _LibrarySession(session, settings)
        try:
            cache = settings.storage.cache_dir or disk_cache_root()
            links = _symlink_mirror(settings, mountpoint)
            library = Library(watch_folder, torrents, settings, cache / METADATA_FOLDER, links)
            # The library's objects live as long as the mount: out of the collector's
            # sight, or every full collection walks them all (with 10 000 torrents,
            # `find` over the mount took 24 times as long as with 1 000).
            gc.freeze()
            tasks = functools.partial(_serve, session, library, mountpoint, other_face)
            options = mount_options(watch_folder.name, settings.allow_other)
            serve(TorrentOperations(library), mountpoint, options, tasks)
        except Interrupted:
            log.info("stopped by a signal before the mount was up")
        finally:
            torrents.close()


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


async def _serve(
    session: Session,
    library: Library,
    mountpoint: Path,
    other_face: Face | None,
    nursery: trio.Nursery,
    notifier: Notifier,
) -> None:
    log.info("mounted the library %s at %s", library.watch_folder, mountpoint)
    # From now on the kernel caches the tree, and hears of what changes in it.
    library.tree.changes = KernelCache()
    if other_face is not None:
        places = MountPlaces(library, mountpoint, library.watch_folder, library.symlink_dir)
        nursery.start_soon(other_face, places)
    nursery.start_soon(session.run)
    nursery.start_soon(library.run)
    await serve_until_stopped(
        nursery, mountpoint, lambda: library_line(library.status(every_torrent=False)), notifier
    )
