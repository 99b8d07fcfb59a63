"""From reads to pieces: fetching with deadlines, and per-open-file readers.

`PieceFetcher` is the single place that asks for pieces: it serves them from
the RAM store when it can, and otherwise sets a deadline through a
`PieceRequester` (the engine) and lets any number of readers wait for the
same piece. `FileReader` is one open file handle: it turns a read into the
pieces that cover it and keeps a read-ahead window requested after it.
"""

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

import trio

from torrentfs.config import StreamSettings
from torrentfs.layout import FileEntry, TorrentLayout, assemble
from torrentfs.store import PieceStore

log = logging.getLogger(__name__)


class PieceRequester(Protocol):
    def request_piece(self, piece: int, deadline_ms: int) -> None: ...


@dataclass
class _PendingPiece:
    due: float
    arrived: trio.Event = field(default_factory=trio.Event)
    data: bytes | None = None


class PieceFetcher:
    """Pieces by index: from the store at once, or requested and awaited."""

    def __init__(
        self, requester: PieceRequester, store: PieceStore, settings: StreamSettings
    ) -> None:
        self._requester = requester
        self._store = store
        self._settings = settings
        self._pending: dict[int, _PendingPiece] = {}

    def request(self, piece: int, deadline_ms: int) -> None:
        """Make sure `piece` is on its way, due within `deadline_ms` (an earlier due date wins)."""
        if piece in self._store:
            return
        due = trio.current_time() + deadline_ms / 1000
        pending = self._pending.get(piece)
        if pending is None:
            self._pending[piece] = _PendingPiece(due)
        elif pending.due <= due:
            return
        else:
            pending.due = due
        self._requester.request_piece(piece, deadline_ms)

    async def get(self, piece: int) -> bytes:
        """The verified bytes of `piece`, waiting for them if they are not in the store.

        Waits as long as it takes; cancel the caller to give up.
        """
        data = self._store.get(piece)
        if data is not None:
            return data
        self.request(piece, 0)
        pending = self._pending[piece]
        while not pending.arrived.is_set():
            with trio.move_on_after(self._settings.piece_reassert_s):
                await pending.arrived.wait()
            if not pending.arrived.is_set():
                log.debug("still waiting for piece %d; asking again", piece)
                self._requester.request_piece(piece, 0)
        assert pending.data is not None
        return pending.data

    def piece_arrived(self, piece: int, data: bytes) -> None:
        self._store.put(piece, data)
        pending = self._pending.pop(piece, None)
        if pending is not None:
            pending.data = data
            pending.arrived.set()

    def piece_failed(self, piece: int, reason: str) -> None:
        # Waiters keep waiting: their periodic re-request asks again.
        log.warning("reading piece %d failed (%s); will ask again", piece, reason)

    @property
    def pending_pieces(self) -> int:
        return len(self._pending)


def readahead_piece_count(piece_length: int, readahead_bytes: int) -> int:
    """Pieces in the read-ahead window: enough for `readahead_bytes`, never fewer than 2."""
    return max(2, math.ceil(readahead_bytes / piece_length))


class FileReader:
    """One open handle on one file: reads, and the read-ahead window after them."""

    def __init__(
        self,
        layout: TorrentLayout,
        file: FileEntry,
        fetcher: PieceFetcher,
        settings: StreamSettings,
    ) -> None:
        self._layout = layout
        self._file = file
        self._fetcher = fetcher
        self._settings = settings
        self._file_pieces = layout.pieces_of_file(file)
        self._window_pieces = readahead_piece_count(layout.piece_length, settings.readahead_bytes)
        # The last piece the read-ahead has asked for; -1 before any read.
        self._requested_upto = -1
        self._last_read_piece = -1

    async def read(self, offset: int, size: int) -> bytes:
        """Exactly the file's bytes at [offset, offset + size), clipped to the file's end."""
        spans = self._layout.spans(self._file, offset, size)
        if not spans:
            return b""
        for span in spans:
            self._fetcher.request(span.piece, 0)
        self._extend_readahead(spans[-1].piece)
        pieces = [await self._fetcher.get(span.piece) for span in spans]
        return assemble(spans, pieces)

    def _extend_readahead(self, last_piece: int) -> None:
        target = min(last_piece + self._window_pieces, self._file_pieces.stop - 1)
        seeked = last_piece < self._last_read_piece or last_piece > self._requested_upto
        first = last_piece + 1 if seeked else self._requested_upto + 1
        step = self._settings.readahead_step_ms
        for piece in range(first, target + 1):
            self._fetcher.request(piece, (piece - last_piece) * step)
        self._requested_upto = max(target, last_piece if seeked else self._requested_upto)
        self._last_read_piece = last_piece
