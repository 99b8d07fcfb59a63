"""What a mount shows: the torrent's file tree and readers for its files.

`TorrentContent` sits between the FUSE layer and the engine. It learns the
metadata (at once for a .torrent, from peers for a magnet), then builds the
file tree and the piece fetcher (which owns the RAM store), and opens a
`FileReader` per open file. The FUSE layer asks it questions and never sees
libtorrent.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import trio

from torrentfs.budget import WorkingFiles
from torrentfs.config import Settings, StorageMode, store_bytes
from torrentfs.idle import Activity, IdleWatch
from torrentfs.layout import TorrentLayout
from torrentfs.status_schema import MountStatus, TorrentStatus
from torrentfs.stream import FileReader, PieceFetcher, PieceRequester, Walk
from torrentfs.tree import FileTree, Node

log = logging.getLogger(__name__)

STARTUP_OWNER = "startup"


class TorrentEngine(PieceRequester, Protocol):
    """What content needs of the engine."""

    def status(self) -> TorrentStatus: ...

    def wanted_pieces(self) -> list[int]: ...

    def had_pieces(self) -> list[int]: ...

    async def forget(self, pieces: list[int], listener: "TorrentContent") -> bool: ...

    def set_background(self, active: bool) -> None: ...

    def disconnect(self) -> None: ...

    async def reconnect(self, listener: "TorrentContent") -> None: ...


class MetadataTimeout(Exception):
    """The torrent's metadata did not arrive within the configured time."""


class ReadTimeout(Exception):
    """A read waited longer than --read-timeout for its pieces."""


@dataclass(frozen=True)
class _Known:
    """Everything that exists once the metadata is known."""

    layout: TorrentLayout
    tree: FileTree
    fetcher: PieceFetcher
    walk: Walk


class TorrentContent:
    """The files of one torrent, available once its metadata is known."""

    def __init__(self, torrent: TorrentEngine, settings: Settings) -> None:
        self._torrent = torrent
        self._settings = settings
        self.metadata_known = trio.Event()
        self._known: _Known | None = None
        self._store_bytes = store_bytes(settings.cache_bytes, settings.storage.mode)
        self._working_files = _working_files(settings, self._store_bytes)
        self._over_budget = trio.Event()
        self._idle = IdleWatch(settings.idle, self)
        self._readers: set[FileReader] = set()
        self._startup_released = False
        self._reconnect_due = trio.Event()

    async def run(self) -> None:
        """The content's background work, until cancelled: the budget and the idle pause."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_within_budget)
            nursery.start_soon(self._reconnect_when_due)
            await self.metadata_known.wait()
            # Reads start with the metadata; the quiet before is not a pause.
            nursery.start_soon(self._idle.run)

    async def read(self, reader: FileReader, offset: int, size: int) -> bytes:
        """`reader`'s bytes at `offset`; raises ReadTimeout after --read-timeout of waiting."""
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

    async def _reconnect_when_due(self) -> None:
        while True:
            await self._reconnect_due.wait()
            self._reconnect_due = trio.Event()
            await self._torrent.reconnect(self)

    async def _keep_within_budget(self) -> None:
        """Forget the oldest pieces of libtorrent's files when they pass their budget.

        Runs until cancelled; forgetting happens in batches, since each costs
        the torrent a reconnect.
        """
        working = self._working_files
        if working is None:
            return
        while True:
            await self._over_budget.wait()
            self._over_budget = trio.Event()
            known = self._known
            if known is None or not working.over_budget:
                continue
            victims = working.victims(busy=set(known.fetcher.requested_pieces))
            if victims and await self._torrent.forget(victims, self):
                working.forget(victims)

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

    def open_reader(self, node: Node) -> FileReader:
        known = self._known
        assert known is not None and node.file is not None
        reader = FileReader(
            known.layout, node.file, known.fetcher, self._settings.stream, known.walk
        )
        self._readers.add(reader)
        return reader

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

    def close_reader(self, reader: FileReader) -> None:
        self._readers.discard(reader)
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
                "state": self._idle.activity.value if known else "fetching metadata",
            },
        )
        if known:
            working = self._working_files
            status["working_files_bytes"] = working.bytes if working else None
            status["store"] = known.fetcher.store.stats()
            status["requested_pieces"] = known.fetcher.requested_pieces
            status["claimed_pieces"] = known.fetcher.claimed_pieces
            status["libtorrent_wanted_pieces"] = self._torrent.wanted_pieces()
            status["cache_bytes"] = self._settings.cache_bytes
            status["open_files"] = [reader.snapshot() for reader in self._readers]
        return status

    # EngineListener

    def metadata_ready(self, layout: TorrentLayout) -> None:
        fetcher = PieceFetcher(
            self._torrent, self._store_bytes, self._settings.stream, layout.piece_length
        )
        self._known = _Known(layout, FileTree(layout), fetcher, Walk())
        if self._working_files is not None:
            # Disk mode: what an earlier mount left counts against the limit.
            for piece in self._torrent.had_pieces():
                self._working_files.add(piece, layout.piece_size(piece))
        self.metadata_known.set()
        self._preload_head(layout, fetcher)

    def piece_arrived(self, piece: int, data: bytes) -> None:
        self._to_fetcher(lambda fetcher: fetcher.piece_arrived(piece, data))
        if self._working_files is not None:
            self._working_files.add(piece, len(data))
            if self._working_files.over_budget:
                self._over_budget.set()

    def torrent_rejoined(self) -> None:
        self._to_fetcher(PieceFetcher.request_again)

    def piece_failed(self, piece: int, reason: str) -> None:
        self._to_fetcher(lambda fetcher: fetcher.piece_failed(piece, reason))

    # IdleListener

    def went_idle(self) -> None:
        self._to_fetcher(PieceFetcher.suspend)
        self._torrent.set_background(self._settings.idle.download_all_while_idle)

    def went_disconnected(self) -> None:
        self._torrent.disconnect()

    def woke(self, was: Activity) -> None:
        self._torrent.set_background(True)
        if was is Activity.DISCONNECTED:
            self._reconnect_due.set()
        self._to_fetcher(PieceFetcher.resume)

    def _to_fetcher(self, event: Callable[[PieceFetcher], None]) -> None:
        """Pass an engine or idle event on to the fetcher, which exists once the metadata does."""
        if self._known is not None:
            event(self._known.fetcher)

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


def _working_files(settings: Settings, store_bytes_: int) -> WorkingFiles | None:
    """The budget of libtorrent's files: the rest of --cache-size, or --disk-limit on disk."""
    if settings.storage.mode is StorageMode.MEMORY:
        return WorkingFiles(settings.cache_bytes - store_bytes_)
    if settings.storage.disk_limit_bytes is not None:
        return WorkingFiles(settings.storage.disk_limit_bytes)
    return None
