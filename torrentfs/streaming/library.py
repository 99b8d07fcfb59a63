"""A library: the torrents a watch folder names, one folder each, started when first read.

`Library` follows its folder (a `.torrent` or `.magnet` file per torrent, in
subfolders at any depth), shows one folder per torrent in the subfolder its
file is in (`core.library_tree`), and answers the FUSE layer as
`TorrentContent` does for a single torrent. A torrent with its metadata at
hand is created in the session but not started: listing and `stat` cost
nothing, and the first open starts it. A magnet joins the swarm for its
metadata and nothing else, at most `--max-active` at once (the rest wait
in turn), and leaves as soon as its metadata is in unless a file of it is
open. A file removed from the folder takes its torrent's folder away at
once; a file still open in it reads on until closed, and the torrent goes
then. A file moved to another subfolder moves its torrent's folder.
"""

import logging
from pathlib import Path

import trio

from torrentfs.core.config import Settings, store_bytes
from torrentfs.core.errors import DuplicateTorrent, UserError
from torrentfs.core.layout import TorrentLayout
from torrentfs.core.library_tree import LibraryTree, parent_folder, split_inode
from torrentfs.core.metadata_cache import MetadataCache
from torrentfs.core.source import Source
from torrentfs.core.status_schema import (
    LibraryStatus,
    LibraryTorrentStatus,
    RejectedFile,
)
from torrentfs.core.store import StoreBudget
from torrentfs.core.tree import FileTree, Node
from torrentfs.core.watch_folder import FolderChanges, Stamp, changes, read_sources, scan
from torrentfs.streaming.content import TorrentContent
from torrentfs.streaming.folder_watch import follow
from torrentfs.streaming.library_torrent import (
    QUEUED_FOR_METADATA,
    LibraryEntry,
    TorrentSession,
    folder_name,
    state,
)
from torrentfs.streaming.metadata_queue import MetadataQueue
from torrentfs.streaming.symlinks import SymlinkMirror

log = logging.getLogger(__name__)


class Library:
    """The torrents of one watch folder, as one mount."""

    def __init__(
        self,
        watch_folder: Path,
        session: TorrentSession,
        settings: Settings,
        metadata_folder: Path,
        links: SymlinkMirror | None = None,
    ) -> None:
        """Raises UserError if the watch folder cannot be listed. A magnet's metadata is
        kept in `metadata_folder` once fetched, so later mounts list it at once. `links`
        mirrors every torrent's files as symlinks into the mount (--symlink-dir)."""
        self._links = links
        self.symlink_dir = links.root if links is not None else None
        self.watch_folder = watch_folder
        self._metadata = MetadataCache(metadata_folder)
        # One RAM store for all torrents: the coldest piece of any goes first.
        self._store_budget = StoreBudget(store_bytes(settings))
        self._session = session
        self._settings = settings
        self.tree = LibraryTree()
        self._entries: dict[int, LibraryEntry] = {}
        self._by_hash: dict[str, LibraryEntry] = {}
        self._by_file: dict[str, LibraryEntry] = {}
        self._rejected: dict[str, str] = {}
        self._handles: dict[int, tuple[LibraryEntry, int]] = {}
        self._next_number = 1
        self._next_handle = 1
        self._seen: dict[str, Stamp] = {}
        self._nursery: trio.Nursery | None = None
        # Magnets waiting for a place in the swarm to fetch their metadata, in turn.
        self._metadata_queue = MetadataQueue(
            settings.max_active_torrents, self._in_swarm_count, self._start
        )
        # Torrents started and maybe in the swarm (the rest cost nothing to count).
        self._started: set[LibraryEntry] = set()
        try:
            self._seen = scan(watch_folder)
        except OSError as error:
            raise UserError(
                f"cannot read the watch folder {watch_folder}: {error.strerror}"
            ) from None
        found = changes({}, self._seen)
        self._apply(found, self._read_sources(found))
        log.info("library of %s: %d torrents", watch_folder, len(self._entries))

    async def run(self) -> None:
        """Until cancelled: follow the watch folder, fetch magnets' metadata in turn, and
        run every started torrent's content."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for entry in list(self._entries.values()):
                if entry.torrent.layout is None:
                    self._metadata_queue.add(entry)
            nursery.start_soon(self._metadata_queue.run)
            await follow(self.watch_folder, self._seen, self._changed)

    layout: TorrentLayout | None = None

    async def wait_tree(self) -> LibraryTree:
        return self.tree

    # Reading

    def open_file(self, node: Node) -> int:
        """Open a file of one of the torrents, starting that torrent; returns the handle."""
        number, local = split_inode(node.inode)
        entry = self._entries[number]
        if not entry.in_swarm:
            self._make_room(entry)
        self._start(entry)
        entry.last_used = trio.current_time()
        tree = entry.content.tree
        assert tree is not None, "a file is listed once its torrent's files are known"
        local_node = tree.node(local)
        assert local_node is not None
        handle = self._next_handle
        self._next_handle += 1
        self._handles[handle] = (entry, entry.content.open_file(local_node))
        entry.open_handles.add(handle)
        return handle

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        entry, local = self._handles[handle]
        return await entry.content.read(local, offset, size)

    def close_file(self, handle: int) -> None:
        found = self._handles.pop(handle, None)
        if found is None:
            return
        entry, local = found
        entry.content.close_file(local)
        entry.open_handles.discard(handle)
        entry.last_used = trio.current_time()
        if entry.removed and not entry.open_handles:
            self._close(entry)

    def file_progress(self, node: Node) -> float:
        number, local = split_inode(node.inode)
        entry = self._entries[number]
        tree = entry.content.tree
        local_node = tree.node(local) if tree is not None else None
        if not entry.started or local_node is None:
            return 0.0
        return entry.content.file_progress(local_node)

    def status(self, every_torrent: bool = True) -> LibraryStatus:
        """The library's status; without `every_torrent`, only the torrents started (the
        summary systemd shows every few seconds need not walk 10 000 unread ones)."""
        entries = self._entries.values() if every_torrent else list(self._started)
        torrents = [self._entry_status(entry) for entry in entries if not entry.removed]
        rejected = [RejectedFile(file=f, reason=r) for f, r in sorted(self._rejected.items())]
        return LibraryStatus(
            watch_folder=str(self.watch_folder),
            torrent_count=len(self._by_hash),
            torrents=torrents,
            rejected=rejected,
        )

    def torrent_status(self, info_hash: str) -> LibraryTorrentStatus | None:
        """One torrent's status by its info-hash, without walking the library."""
        entry = self._by_hash.get(info_hash)
        return None if entry is None or entry.removed else self._entry_status(entry)

    def _entry_status(self, entry: LibraryEntry) -> LibraryTorrentStatus:
        return LibraryTorrentStatus(
            folder=self.tree.path_of(entry.number) or "",
            files=sorted(entry.files),
            info_hash=entry.torrent.info_hash,
            state=self._state(entry),
            status=entry.content.status() if entry.in_swarm else None,
        )

    # The watch folder

    def _state(self, entry: LibraryEntry) -> str:
        if entry.queued:
            return QUEUED_FOR_METADATA
        reading = bool(entry.open_handles) or entry.content.read_lately
        return state(entry.torrent, entry.started, entry.in_swarm, reading)

    async def _changed(self, found: FolderChanges) -> None:
        # The files are read on a worker thread: a slow disk must not hold up FUSE.
        read = await trio.to_thread.run_sync(self._read_sources, found, abandon_on_cancel=True)
        self._apply(found, read)

    def _read_sources(self, found: FolderChanges) -> dict[str, Source | UserError]:
        names = [*found.added, *found.rewritten]
        return read_sources(self.watch_folder, names, self._metadata.complete)

    def _apply(self, found: FolderChanges, read: dict[str, Source | UserError]) -> None:
        """New files first: a file moved between subfolders (new name, same torrent, then
        the old name gone) moves its torrent instead of closing it."""
        for name in found.added:
            self._file_came(name, read[name])
        for name in found.removed:
            self._file_gone(name)
        for name in found.rewritten:
            self._file_gone(name)
            self._file_came(name, read[name])

    def _file_came(self, name: str, read: Source | UserError) -> None:
        try:
            if isinstance(read, UserError):
                raise read
            source = read
            torrent = self._session.add(source)
        except DuplicateTorrent as duplicate:
            # The same torrent named twice is one torrent.
            entry = self._by_hash.get(duplicate.info_hash)
            if entry is None:
                reason = "its torrent is leaving the mount (a file of it is still open)"
                log.warning("rejected %s: %s", name, reason)
                self._rejected[name] = reason
                return
            entry.files.add(name)
            self._by_file[name] = entry
            log.debug("%s names %s too", name, self.tree.path_of(entry.number))
            return
        except UserError as error:
            log.warning("rejected %s: %s", name, error)
            self._rejected[name] = str(error)
            return
        content = TorrentContent(torrent, self._settings, self._store_budget, preload_head=False)
        entry = LibraryEntry(self._next_number, torrent, content, {name})
        self._next_number += 1
        self._entries[entry.number] = entry
        self._by_hash[torrent.info_hash] = entry
        self._by_file[name] = entry
        layout = torrent.layout
        tree = FileTree(layout) if layout else None
        self.tree.add(
            entry.number,
            folder_name(name, source, layout, torrent.info_hash),
            tree,
            parent_folder(name),
        )
        self._show_links(entry)
        # At start, one line for the library rather than one per torrent.
        level = logging.INFO if self._nursery is not None else logging.DEBUG
        log.log(level, "added %s as %s", name, self.tree.path_of(entry.number))
        if layout is None and self._nursery is not None:
            # Its files are unknown until peers send the metadata (magnets found at
            # start are queued by `run`).
            self._metadata_queue.add(entry)

    def _file_gone(self, name: str) -> None:
        self._rejected.pop(name, None)
        entry = self._by_file.pop(name, None)
        if entry is None:
            return
        entry.files.discard(name)
        if entry.files:
            self._follow_its_file(entry)
            return
        log.info("removed %s: %s leaves the mount", name, self.tree.path_of(entry.number))
        self._hide_links(entry)
        self.tree.remove(entry.number)
        del self._by_hash[entry.torrent.info_hash]
        entry.removed = True
        if not entry.open_handles:
            self._close(entry)

    def _follow_its_file(self, entry: LibraryEntry) -> None:
        """Show the torrent in the subfolder of the file naming it (the first, if several)."""
        folder = parent_folder(min(entry.files))
        if self.tree.place_of(entry.number) != folder:
            self._hide_links(entry)
            self.tree.move(entry.number, folder)
            self._show_links(entry)
            log.info("moved to %s", self.tree.path_of(entry.number))

    def _show_links(self, entry: LibraryEntry) -> None:
        if self._links is not None:
            self._links.show_torrent(self.tree, entry.number)

    def _hide_links(self, entry: LibraryEntry) -> None:
        if self._links is not None:
            self._links.hide_torrent(self.tree, entry.number)

    # Starting and closing torrents

    def _in_swarm_count(self) -> int:
        return sum(1 for entry in self._started if entry.in_swarm)

    def _make_room(self, coming: LibraryEntry) -> None:
        """Keep the torrents in the session under --max-active: send out the one used
        longest ago with no file open, if there are too many."""
        active = [e for e in self._started if e is not coming and e.in_swarm]
        idle = sorted((e for e in active if not e.open_handles), key=lambda e: e.last_used)
        excess = len(active) + 1 - self._settings.max_active_torrents
        for entry in idle[: max(0, excess)]:
            if entry.content.disconnect_now():
                log.info("%s leaves the swarm: --max-active", self.tree.folder_name(entry.number))

    def _start(self, entry: LibraryEntry) -> None:
        """Add the torrent to the session and run its content (from `run` on)."""
        if entry.started:
            return
        assert self._nursery is not None, "torrents start once the library runs"
        entry.started = True
        self._started.add(entry)
        log.info("starting %s", self.tree.path_of(entry.number))
        entry.torrent.start(entry.content)
        self._nursery.start_soon(self._content_and_tree, entry)

    async def _content_and_tree(self, entry: LibraryEntry) -> None:
        with entry.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(entry.content.run)
                await entry.content.metadata_known.wait()
                tree = entry.content.tree
                if tree is not None and not entry.removed:
                    self.tree.set_tree(entry.number, tree)
                    layout = entry.torrent.layout
                    if layout and self.tree.folder_name(entry.number) == entry.torrent.info_hash:
                        # A magnet without a name, shown under its hash until now.
                        self._hide_links(entry)
                        folder = self.tree.rename(entry.number, layout.name)
                        log.info("%s is %s from now on", entry.torrent.info_hash, folder)
                    self._show_links(entry)
                    if not entry.open_handles and entry.content.disconnect_now():
                        # Nothing unread is fetched: it had come for its metadata alone.
                        log.info(
                            "%s has its metadata; out of the swarm until read",
                            self.tree.path_of(entry.number),
                        )
                        self._metadata_queue.place_freed()
                    # Written whole and synced: on a worker thread, as other file work.
                    await trio.to_thread.run_sync(
                        self._metadata.keep, entry.torrent.info_hash, entry.torrent.metadata()
                    )

    def _close(self, entry: LibraryEntry) -> None:
        self._started.discard(entry)
        entry.scope.cancel()
        entry.content.close()
        del self._entries[entry.number]
        self._session.remove(entry.torrent)
