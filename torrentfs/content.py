"""What a mount shows: the torrent's file tree and readers for its files.

`TorrentContent` sits between the FUSE layer and the engine. It learns the
metadata (at once for a .torrent, from peers for a magnet), builds the file
tree, owns the RAM store and the piece fetcher, and opens a `FileReader` per
open file. The FUSE layer asks it questions and never sees libtorrent.
"""

import dataclasses
import logging
from typing import Any, Protocol

import trio

from torrentfs.config import Settings
from torrentfs.engine import EngineStatus
from torrentfs.layout import TorrentLayout
from torrentfs.stream import FileReader, PieceFetcher, PieceRequester
from torrentfs.tree import FileTree, Node

log = logging.getLogger(__name__)

STARTUP_OWNER = "startup"


class Torrent(PieceRequester, Protocol):
    """What content needs of the engine."""

    def status(self) -> EngineStatus: ...

    def wanted_pieces(self) -> list[int]: ...


class MetadataTimeout(Exception):
    """The torrent's metadata did not arrive within the configured time."""


class TorrentContent:
    """The files of one torrent, available once its metadata is known."""

    def __init__(self, torrent: Torrent, settings: Settings) -> None:
        self._torrent = torrent
        self._settings = settings
        self.fetcher = PieceFetcher(torrent, settings.cache_bytes, settings.stream)
        self.metadata_known = trio.Event()
        self.layout: TorrentLayout | None = None
        self._tree: FileTree | None = None

    @property
    def tree(self) -> FileTree | None:
        """The file tree, or None while the metadata is still missing."""
        return self._tree

    async def wait_tree(self) -> FileTree:
        """The file tree, waiting for the metadata; raises MetadataTimeout."""
        if self._tree is None:
            with trio.move_on_after(self._settings.metadata_timeout_s):
                await self.metadata_known.wait()
        if self._tree is None:
            log.error(
                "no metadata after %.0f s: no peer has sent it (check the source and the network)",
                self._settings.metadata_timeout_s,
            )
            raise MetadataTimeout
        return self._tree

    def open_reader(self, node: Node) -> FileReader:
        assert self.layout is not None and node.file is not None
        reader = FileReader(self.layout, node.file, self.fetcher, self._settings.stream)
        # Once a program opens a file, it decides what is fetched.
        self.fetcher.release(STARTUP_OWNER)
        return reader

    def status(self) -> dict[str, Any]:
        """A snapshot for the status view: engine, store and the pieces asked for."""
        engine = self._torrent.status()
        return {
            "name": self.layout.name if self.layout else None,
            "state": "streaming" if self._tree is not None else "fetching metadata",
            **dataclasses.asdict(engine),
            "store": dataclasses.asdict(self.fetcher.store.stats()),
            "requested_pieces": self.fetcher.requested_pieces,
            "claimed_pieces": self.fetcher.claimed_pieces,
            "libtorrent_wanted_pieces": self._torrent.wanted_pieces() if self.layout else [],
        }

    # EngineListener

    def metadata_ready(self, layout: TorrentLayout) -> None:
        self.layout = layout
        self._tree = FileTree(layout)
        self.metadata_known.set()
        self._preload_head(layout)

    def piece_arrived(self, piece: int, data: bytes) -> None:
        self.fetcher.piece_arrived(piece, data)

    def piece_failed(self, piece: int, reason: str) -> None:
        self.fetcher.piece_failed(piece, reason)

    def _preload_head(self, layout: TorrentLayout) -> None:
        """Fetch the first piece of the largest file, the one most likely to be played.

        Wanting a piece also keeps the torrent unfinished, so seeds stay
        connected and the first read does not wait for a reconnect.
        """
        candidates = [f for f in layout.files if not f.is_padding and f.size > 0]
        if not candidates:
            return
        largest = max(candidates, key=lambda f: f.size)
        self.fetcher.claim(STARTUP_OWNER, {layout.pieces_of_file(largest).start: 0})
