"""What a mount shows: the torrent's file tree and readers for its files.

`TorrentContent` sits between the FUSE layer and the engine. It learns the
metadata (at once for a .torrent, from peers for a magnet), then builds the
file tree and the piece fetcher (which owns the RAM store), and opens a
`FileReader` per open file. The FUSE layer asks it questions and never sees
libtorrent.
"""

import logging
import math
from dataclasses import dataclass
from typing import Protocol, cast

import trio

from torrentfs.core.config import Settings, store_bytes
from torrentfs.core.layout import TorrentLayout, runs
from torrentfs.core.status_schema import MountStatus, TorrentStatus
from torrentfs.core.store import StoreBudget
from torrentfs.core.tree import FileTree, Node
from torrentfs.streaming.fetcher import PieceFetcher, PieceRequester
from torrentfs.streaming.idle import Activity, IdleWatch
from torrentfs.streaming.mount_content import FETCHING_METADATA, MetadataTimeout, ReadTimeout
from torrentfs.streaming.reader import FileReader, Walk

log = logging.getLogger(__name__)

STARTUP_OWNER = "startup"
# States of the status beyond the idle watch's activities (and FETCHING_METADATA).
# A single mount fetching the first window of its largest file before anyone reads.
WARMING_UP = "warming up"


class TorrentEngine(PieceRequester, Protocol):
    """What content needs of the engine's torrent."""

    def status(self) -> TorrentStatus: ...

    def wanted_pieces(self) -> list[int]: ...

    def had_pieces(self) -> list[int]: ...

    @property
    def working_files_bytes(self) -> int | None: ...

    @property
    def in_ram(self) -> bool:
        """Whether libtorrent's working files are in RAM (memory mode)."""

    def go_idle(self) -> None: ...

    def disconnect(self) -> None: ...

    def wake(self) -> None: ...


@dataclass(frozen=True)
class _Known:
    """Everything that exists once the metadata is known."""

    layout: TorrentLayout
    tree: FileTree
    fetcher: PieceFetcher
    walk: Walk


class TorrentContent:
    """The files of one torrent, available once its metadata is known."""

    def __init__(
        self,
        torrent: TorrentEngine,
        settings: Settings,
        shared_store: StoreBudget | None = None,
        preload_head: bool = True,
    ) -> None:
        """`shared_store`: the RAM store's budget, shared with other torrents (a library).
        `preload_head`: fetch the first window of the largest file with the metadata (a
        single mount, mounted to be watched; never a library's torrent)."""
        self._shared_store = shared_store
        self._preloads_head = preload_head and settings.stream.preload_head
        self._torrent = torrent
        self._settings = settings
        self.metadata_known = trio.Event()
        self._known: _Known | None = None
        self._store_bytes = store_bytes(settings)
        self._idle = IdleWatch(settings.idle, self)
        # The one registry of open files: file handle number -> its reader.
        self._readers: dict[int, FileReader] = {}
        self._next_handle = 1
        self._startup_released = False

    async def run(self) -> None:
        """The content's background work, until cancelled: the idle pause."""
        await self.metadata_known.wait()
        # Reads start with the metadata; the quiet before is not a pause.
        await self._idle.run()

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        """The bytes at `offset` of the file open as `handle`; raises ReadTimeout after
        --read-timeout of waiting, KeyError for a handle not open."""
        reader = self._readers[handle]
        timeout_s = self._settings.read_timeout_s or math.inf
        with self._idle.reading(), trio.move_on_after(timeout_s):
            data = await reader.read(offset, size)
            self._release_startup_claim()
            return data
        known = self._known
        assert known is not None
        missing = [p for p in reader.pieces_under(offset, size) if p not in known.fetcher.store]
        log.error(
            "a read of %s at %d waited %.0f s for pieces %s; answering EIO (--read-timeout)",
            reader.path,
            offset,
            timeout_s,
            missing,
        )
        raise ReadTimeout

    @property
    def layout(self) -> TorrentLayout | None:
        return self._known.layout if self._known else None

    @property
    def tree(self) -> FileTree | None:
        """The file tree, or None while the metadata is still missing."""
        return self._known.tree if self._known else None

    async def wait_tree(self) -> FileTree:
        """The file tree, waiting for the metadata; raises MetadataTimeout."""
        if self._known is None:
            with trio.move_on_after(self._settings.metadata_timeout_s):
                await self.metadata_known.wait()
        if self._known is None:
            log.error(
                "no metadata after %.0f s: no peer has sent it (check the source and the "
                "network; peers do not share a private torrent's metadata: mount its "
                ".torrent file)",
                self._settings.metadata_timeout_s,
            )
            raise MetadataTimeout
        return self._known.tree

    def open_file(self, node: Node) -> int:
        """Open `node`'s file for reading; returns its handle number."""
        known = self._known
        assert known is not None and node.file is not None
        handle = self._next_handle
        self._next_handle += 1
        self._readers[handle] = FileReader(
            known.layout, node.file, known.fetcher, self._settings.stream, known.walk
        )
        return handle

    def _release_startup_claim(self) -> None:
        """Once a program has read, it decides what is fetched.

        Released after the first read has claimed its own pieces, not at
        open: a moment with nothing wanted in between makes libtorrent tell
        the peers "not interested", and aria2 then chokes us until its next
        choke round, 10 s later.
        """
        if not self._startup_released and self._known is not None:
            self._startup_released = True
            self._known.fetcher.release(STARTUP_OWNER)

    def close_file(self, handle: int) -> None:
        reader = self._readers.pop(handle, None)
        if reader is not None:
            reader.close()

    def file_progress(self, node: Node) -> float:
        """The fraction of the file's pieces held, in RAM or by libtorrent (1.0 if empty)."""
        known = self._known
        assert known is not None and node.file is not None
        pieces = known.layout.pieces_of_file(node.file)
        if not pieces:
            return 1.0
        held = set(self._torrent.had_pieces()).union(known.fetcher.store.pieces())
        return len(held.intersection(pieces)) / len(pieces)

    @property
    def read_lately(self) -> bool:
        """A file was read within --idle-timeout (not just opened, nor preloaded)."""
        return self._idle.has_read and self._idle.activity is Activity.STREAMING

    def _state(self) -> str:
        if self._known is None:
            return FETCHING_METADATA
        if self._preloads_head and not self._startup_released and not self._idle.has_read:
            return WARMING_UP
        return self._idle.activity.value

    def status(self) -> MountStatus:
        """A snapshot for the status view: engine, store and the pieces asked for."""
        known = self._known
        # A cast: mypy does not accept unpacking a TypedDict into one with
        # more keys, some of them optional.
        status = cast(
            MountStatus,
            {
                **self._torrent.status(),
                "name": known.layout.name if known else None,
                "state": self._state(),
            },
        )
        if known:
            working = self._torrent.working_files_bytes
            store = known.fetcher.store.stats()
            status["working_files_bytes"] = working
            in_files = set(self._torrent.had_pieces())
            in_store = set(known.fetcher.store.pieces())
            held = in_files | in_store
            status["held_bytes"] = sum(known.layout.piece_size(piece) for piece in held)
            status["held_ranges"] = runs(sorted(held))
            status["num_pieces"] = known.layout.num_pieces
            status["piece_length"] = known.layout.piece_length
            in_ram = (working or 0) if self._torrent.in_ram else 0
            status["memory_bytes"] = store["bytes"] + in_ram
            # Memory mode: pieces in RAM twice, so that memory = held + these.
            twice = in_files & in_store if self._torrent.in_ram else set()
            status["held_twice_bytes"] = sum(known.layout.piece_size(piece) for piece in twice)
            status["store"] = store
            status["requested_pieces"] = known.fetcher.requested_pieces
            status["claimed_pieces"] = known.fetcher.claimed_pieces
            status["libtorrent_wanted_pieces"] = self._torrent.wanted_pieces()
            status["cache_bytes"] = self._settings.cache_bytes
            status["open_files"] = [reader.snapshot() for reader in self._readers.values()]
        return status

    # TorrentListener

    def metadata_ready(self, layout: TorrentLayout) -> PieceFetcher:
        """Build the tree and the fetcher, which takes the torrent's pieces from now on."""
        fetcher = PieceFetcher(
            self._torrent,
            self._store_bytes,
            self._settings.stream,
            layout.piece_length,
            self._shared_store,
        )
        self._known = _Known(layout, FileTree(layout), fetcher, Walk())
        self.metadata_known.set()
        if self._preloads_head:
            self._preload_head(layout, fetcher)
        return fetcher

    def close(self) -> None:
        """Give the RAM store's pieces back (to a shared budget)."""
        if self._known is not None:
            self._known.fetcher.store.close()

    def disconnect_now(self) -> bool:
        """Leave the swarm at once unless a read is in progress (False then)."""
        return self._known is not None and self._idle.disconnect_now()

    # IdleListener (idle starts with the metadata)

    def went_idle(self) -> None:
        assert self._known is not None
        self._known.fetcher.suspend()
        self._torrent.go_idle()

    def went_disconnected(self) -> None:
        self._torrent.disconnect()

    def woke(self, was: Activity) -> None:
        assert self._known is not None
        self._torrent.wake()
        self._known.fetcher.resume()

    def _preload_head(self, layout: TorrentLayout, fetcher: PieceFetcher) -> None:
        """Fetch the first window of the largest file, the one most likely to be played.

        Wanting pieces also keeps the torrent unfinished, so seeds stay
        connected and the first read does not wait for a reconnect. A whole
        window rather than one piece: rtorrent sent a single piece within
        milliseconds of the metadata, before the player had opened the file,
        libtorrent told it "not interested", and rtorrent choked us until its
        next choke round, 20-30 s later; and aria2's first burst (a second
        of its upload limit) delivered a 1 MiB first window whole.
        """
        candidates = [f for f in layout.files if not f.is_padding and f.size > 0]
        if not candidates:
            return
        largest = max(candidates, key=lambda f: f.size)
        stream = self._settings.stream
        pieces = sorted(
            {span.piece for span in layout.spans(largest, 0, stream.readahead_min_bytes)}
        )
        fetcher.claim(
            STARTUP_OWNER,
            {piece: index * stream.readahead_step_ms for index, piece in enumerate(pieces)},
        )
