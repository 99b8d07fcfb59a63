"""`FileReader`: one open file handle, turning reads into the pieces that cover them
and keeping its read-ahead window claimed; `Walk`: reading that runs from file to file.
"""

import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import trio

from torrentfs.core.config import MEDIA_EXTENSIONS, StreamSettings
from torrentfs.core.layout import FileEntry, TorrentLayout, assemble
from torrentfs.core.status_schema import ReaderStatus
from torrentfs.core.window import (
    RateMeter,
    deadline_step_ms,
    end_pieces,
    is_seek,
    plan_window,
    window_piece_count,
)
from torrentfs.streaming.fetcher import WALK_OWNER, PieceFetcher

log = logging.getLogger(__name__)


@dataclass
class Walk:
    """Sequential reading that runs from file to file in torrent order.

    The reader of the next file takes over the walk's rate, so its window
    starts as wide as the walk's instead of shrinking back to the minimum
    at every file.
    """

    meter: RateMeter = field(default_factory=RateMeter)
    # The last piece the walk's window reached past the end of a file.
    frontier: int = -1


class FileReader:
    """One open handle on one file: its reads, rate, and read-ahead window."""

    def __init__(
        self,
        layout: TorrentLayout,
        file: FileEntry,
        fetcher: PieceFetcher,
        settings: StreamSettings,
        walk: Walk,
    ) -> None:
        self._layout = layout
        self._file = file
        self._fetcher = fetcher
        self._settings = settings
        self._walk = walk
        first_piece = layout.pieces_of_file(file).start
        continues_walk = file.size > 0 and first_piece <= walk.frontier
        self._meter = walk.meter if continues_walk else RateMeter()
        # End of the last read, and where the current run of sequential reads began.
        self._position = 0
        self._run_start = 0
        self._window_bytes = settings.readahead_min_bytes
        self._planned: tuple[int, int, int, bool] | None = None
        # Claims the head and tail of media files, separately from the window.
        self._ends_owner = object()
        if PurePosixPath(file.path[-1] if file.path else "").suffix.lower() in MEDIA_EXTENSIONS:
            ends = end_pieces(layout, file, settings.head_bytes, settings.tail_bytes)
            fetcher.claim(self._ends_owner, dict.fromkeys(ends, 0))

    async def read(self, offset: int, size: int) -> bytes:
        """Exactly the file's bytes at [offset, offset + size), clipped to the file's end."""
        spans = self._layout.spans(self._file, offset, size)
        if not spans:
            return b""
        rate = self._follow(offset, min(offset + size, self._file.size))
        pieces = [span.piece for span in spans]
        # Asked for before the window, so that libtorrent never queues
        # read-ahead in front of them.
        self._fetcher.ask_now(pieces)
        self._plan(pieces, rate)
        return assemble(spans, await self._fetcher.get_all(pieces))

    @property
    def path(self) -> str:
        return "/".join(self._file.path)

    def pieces_under(self, offset: int, size: int) -> list[int]:
        """The pieces holding the file's bytes at [offset, offset + size)."""
        return [span.piece for span in self._layout.spans(self._file, offset, size)]

    def snapshot(self) -> ReaderStatus:
        """Where this handle reads, its window, and how much is fetched ahead of it."""
        rate = self._meter.rate(trio.current_time())
        buffered = self._buffered_bytes()
        torrent_offset = self._file.offset + min(self._position, max(0, self._file.size - 1))
        return ReaderStatus(
            path=self.path,
            position=self._position,
            piece=torrent_offset // self._layout.piece_length,
            window_bytes=self._window_bytes,
            rate_bytes_s=rate,
            buffered_bytes=buffered,
            buffered_s=buffered / rate if rate else None,
        )

    def _buffered_bytes(self) -> int:
        """Bytes from the position on that are in the store without a gap."""
        file, piece_length = self._file, self._layout.piece_length
        if self._position >= file.size:
            return 0
        piece = (file.offset + self._position) // piece_length
        last = self._layout.pieces_of_file(file)[-1]
        while piece <= last and piece in self._fetcher.store:
            piece += 1
        end = min(piece * piece_length - file.offset, file.size)
        return max(0, end - self._position)

    def close(self) -> None:
        """Withdraw this handle's window and head/tail claims."""
        self._fetcher.release(self)
        self._fetcher.release(self._ends_owner)

    def _follow(self, offset: int, end: int) -> float | None:
        """Note a read of [offset, end); returns the reader's current rate."""
        now = trio.current_time()
        if is_seek(
            self._position, offset, self._layout.piece_length, self._settings.seek_ahead_bytes
        ):
            self._run_start = self._position = offset
            self._meter = RateMeter()
        self._meter.add(now, max(0, end - self._position))
        self._position = max(self._position, end)
        return self._meter.rate(now)

    def _plan(self, read_pieces: list[int], rate: float | None) -> None:
        """Claim the window after the pieces being read."""
        settings, piece_length = self._settings, self._layout.piece_length
        count = window_piece_count(settings, piece_length, rate)
        step_ms = deadline_step_ms(settings, piece_length, rate)
        self._window_bytes = count * piece_length
        # A run from the file's start may continue into the next files.
        walk = self._run_start == 0
        last_piece = read_pieces[-1]
        key = (last_piece, count, step_ms, walk)
        if key == self._planned:
            return
        self._planned = key
        plan = plan_window(self._layout, self._file, last_piece, count, step_ms, walk)
        self._fetcher.claim(self, plan.in_file, about_to_wait=read_pieces)
        if plan.beyond_file:
            self._fetcher.claim(WALK_OWNER, plan.beyond_file)
            self._walk.meter = self._meter
            self._walk.frontier = max(plan.beyond_file)
