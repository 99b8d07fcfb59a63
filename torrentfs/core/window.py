"""Read-ahead policy, as pure functions of what a reader has done.

A reader's window is the pieces after its last read that are requested
before it asks for them: sized from its measured consumption rate
(`readahead_s` seconds of it, between a minimum and a maximum), with
deadlines staggered so that libtorrent fetches them in reading order. A read
far from the last one is a seek, which starts a new window. A window that
reaches the end of a file read from its start continues into the next files
in the torrent's byte order, for programs that walk many small files.
"""

import math
from collections import deque
from dataclasses import dataclass

from torrentfs.core.config import StreamSettings
from torrentfs.core.layout import FileEntry, TorrentLayout

# Rates from less than this much reading are noise (one burst of kernel read-ahead).
RATE_MIN_SPAN_S = 0.5
# How far back the rate looks: long enough to smooth a player's bursts.
RATE_SPAN_S = 8.0
# Window pieces are due this fraction of the time the reader needs to reach them.
DEADLINE_MARGIN = 0.5
MIN_STEP_MS = 10
MAX_STEP_MS = 2000
# A window never holds more pieces than this, whatever the byte budget: with
# tiny pieces, planning costs grow with the count.
MAX_WINDOW_PIECES = 512
MIN_WINDOW_PIECES = 2


class RateMeter:
    """Bytes per second a reader consumes, over its last few seconds of sequential reading."""

    def __init__(self, span_s: float = RATE_SPAN_S) -> None:
        self._span_s = span_s
        self._samples: deque[tuple[float, int]] = deque()
        # The sum of the samples' bytes, kept as they come and go: summed at every read,
        # the thousands of samples a fast reader leaves took a third of the CPU of a
        # 200 MB/s read (cProfile).
        self._bytes = 0

    def add(self, now: float, n_bytes: int) -> None:
        self._samples.append((now, n_bytes))
        self._bytes += n_bytes
        while self._samples and self._samples[0][0] < now - self._span_s:
            self._bytes -= self._samples.popleft()[1]

    def rate(self, now: float) -> float | None:
        """Bytes per second, or None until the reader has read for long enough to tell."""
        if not self._samples:
            return None
        elapsed = now - self._samples[0][0]
        if elapsed < RATE_MIN_SPAN_S:
            return None
        return self._bytes / elapsed


def window_piece_count(settings: StreamSettings, piece_length: int, rate: float | None) -> int:
    """Pieces in the window: `readahead_s` of reading at `rate`, within the configured bounds."""
    wanted = settings.readahead_min_bytes if rate is None else rate * settings.readahead_s
    clamped = min(max(wanted, settings.readahead_min_bytes), settings.readahead_max_bytes)
    return min(max(math.ceil(clamped / piece_length), MIN_WINDOW_PIECES), MAX_WINDOW_PIECES)


def deadline_step_ms(settings: StreamSettings, piece_length: int, rate: float | None) -> int:
    """Milliseconds between the deadlines of consecutive window pieces."""
    if rate is None or rate <= 0:
        return settings.readahead_step_ms
    step = piece_length / rate * 1000 * DEADLINE_MARGIN
    return int(min(max(step, MIN_STEP_MS), MAX_STEP_MS))


def is_seek(position: int, offset: int, piece_length: int, ahead_bytes: int) -> bool:
    """Whether a read at `offset` left the stream that ended at `position`.

    Reads may come a little out of order (kernel read-ahead, several
    threads), so a read up to one piece back or `ahead_bytes` (at least two
    pieces) ahead continues the stream. A read further ahead is a jump
    (a player seeking forward), even inside the window: taken as part of
    the stream, the window's earlier pieces stayed in flight ahead of the
    piece the player waited for, and mpv's seek to a new offset took 3 s.
    """
    ahead = max(ahead_bytes, 2 * piece_length)
    return offset < position - piece_length or offset > position + ahead


@dataclass(frozen=True)
class WindowPlan:
    """Pieces to request ahead of a reader, with deadlines in milliseconds from now."""

    in_file: dict[int, int]
    # The part past the end of the file, in the following files.
    beyond_file: dict[int, int]


def plan_window(
    layout: TorrentLayout,
    file: FileEntry,
    last_piece: int,
    piece_count: int,
    step_ms: int,
    continue_past_end: bool,
) -> WindowPlan:
    """The `piece_count` pieces after `last_piece`, cut at the end of `file` unless told not to."""
    file_last = layout.pieces_of_file(file).stop - 1
    limit = layout.num_pieces - 1 if continue_past_end else file_last
    in_file: dict[int, int] = {}
    beyond: dict[int, int] = {}
    for ahead in range(1, piece_count + 1):
        piece = last_piece + ahead
        if piece > limit:
            break
        (in_file if piece <= file_last else beyond)[piece] = ahead * step_ms
    return WindowPlan(in_file, beyond)


def end_pieces(
    layout: TorrentLayout, file: FileEntry, head_bytes: int, tail_bytes: int
) -> set[int]:
    """The pieces holding the first `head_bytes` and the last `tail_bytes` of `file`."""
    pieces = {s.piece for s in layout.spans(file, 0, head_bytes)}
    if tail_bytes > 0:
        pieces |= {s.piece for s in layout.spans(file, max(0, file.size - tail_bytes), tail_bytes)}
    return pieces
