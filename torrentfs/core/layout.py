"""The byte geometry of a torrent: files laid end to end, cut into pieces.

Pure logic: which pieces (and which bytes of them) cover a byte range of a
file. The engine fills a `TorrentLayout` from libtorrent's metadata; nothing
here knows about libtorrent.
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FileEntry:
    """One file of the torrent, as the torrent lists it."""

    index: int
    # Path components relative to the torrent's top folder, exactly as named
    # in the torrent (the file tree sanitises them).
    path: tuple[str, ...]
    offset: int
    size: int
    is_padding: bool = False


@dataclass(frozen=True)
class PieceSpan:
    """Bytes [start, end) of one piece."""

    piece: int
    start: int
    end: int


@dataclass(frozen=True)
class TorrentLayout:
    name: str
    piece_length: int
    total_size: int
    files: tuple[FileEntry, ...]
    creation_date: int = 0

    @property
    def num_pieces(self) -> int:
        return -(-self.total_size // self.piece_length)

    def piece_size(self, piece: int) -> int:
        start = piece * self.piece_length
        return min(self.piece_length, self.total_size - start)

    def spans(self, file: FileEntry, offset: int, length: int) -> list[PieceSpan]:
        """The piece spans holding `length` bytes of `file` from `offset`, clipped to the file."""
        start = file.offset + max(0, offset)
        end = file.offset + min(file.size, offset + length)
        return torrent_spans(self.piece_length, start, end)

    def pieces_of_file(self, file: FileEntry) -> range:
        """Every piece holding at least one byte of `file` (empty for a 0-byte file)."""
        if file.size == 0:
            return range(0)
        return range(
            file.offset // self.piece_length,
            (file.offset + file.size - 1) // self.piece_length + 1,
        )


def torrent_spans(piece_length: int, start: int, end: int) -> list[PieceSpan]:
    """Spans of the pieces covering torrent bytes [start, end), in order."""
    spans = []
    position = start
    while position < end:
        piece, within = divmod(position, piece_length)
        take = min(piece_length - within, end - position)
        spans.append(PieceSpan(piece, within, within + take))
        position += take
    return spans


def assemble(spans: Sequence[PieceSpan], pieces: Sequence[bytes]) -> bytes:
    """Join the bytes that `spans` select from the matching `pieces` (one copy)."""
    if len(spans) == 1:
        span = spans[0]
        data = pieces[0]
        if span.start == 0 and span.end == len(data):
            return data
        return data[span.start : span.end]
    return b"".join(
        memoryview(data)[span.start : span.end] for span, data in zip(spans, pieces, strict=True)
    )


def runs(pieces: list[int]) -> list[tuple[int, int]]:
    """Sorted piece numbers as inclusive (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    found: list[tuple[int, int]] = []
    for piece in pieces:
        if found and found[-1][1] == piece - 1:
            found[-1] = (found[-1][0], piece)
        else:
            found.append((piece, piece))
    return found
