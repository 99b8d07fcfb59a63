from hypothesis import given
from hypothesis import strategies as st

from torrentfs.core.layout import FileEntry, TorrentLayout, assemble, torrent_spans


@st.composite
def layouts(draw):
    """Files of arbitrary sizes (zero included) laid end to end, cut into pieces of any size."""
    piece_length = draw(st.integers(min_value=1, max_value=300))
    sizes = draw(st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=6))
    files, offset = [], 0
    for index, size in enumerate(sizes):
        files.append(FileEntry(index, (f"f{index}",), offset, size))
        offset += size
    return TorrentLayout("t", piece_length, max(offset, 1), tuple(files))


def _torrent_bytes(layout: TorrentLayout) -> bytes:
    return bytes(i % 251 for i in range(layout.total_size))


def _pieces(layout: TorrentLayout, blob: bytes) -> list[bytes]:
    length = layout.piece_length
    return [blob[p * length : (p + 1) * length] for p in range(layout.num_pieces)]


@given(layouts(), st.data())
def test_spans_select_exactly_the_files_bytes(layout, data):
    blob = _torrent_bytes(layout)
    pieces = _pieces(layout, blob)
    file = data.draw(st.sampled_from(layout.files))
    offset = data.draw(st.integers(min_value=0, max_value=file.size + 10))
    length = data.draw(st.integers(min_value=0, max_value=file.size + 10))

    spans = layout.spans(file, offset, length)
    got = assemble(spans, [pieces[s.piece] for s in spans]) if spans else b""

    file_bytes = blob[file.offset : file.offset + file.size]
    assert got == file_bytes[offset : offset + length]
    assert all(0 <= s.start < s.end <= layout.piece_size(s.piece) for s in spans)
    assert (
        [s.piece for s in spans] == list(range(spans[0].piece, spans[-1].piece + 1))
        if spans
        else True
    )


@given(layouts())
def test_pieces_of_file_are_exactly_those_holding_its_bytes(layout):
    for file in layout.files:
        expected = {s.piece for s in layout.spans(file, 0, file.size)}
        assert set(layout.pieces_of_file(file)) == expected


def test_piece_sizes_and_count():
    layout = TorrentLayout("t", 100, 250, (FileEntry(0, ("a",), 0, 250),))
    assert layout.num_pieces == 3
    assert [layout.piece_size(p) for p in range(3)] == [100, 100, 50]


def test_torrent_spans_straddling_boundaries():
    assert [(s.piece, s.start, s.end) for s in torrent_spans(10, 8, 23)] == [
        (0, 8, 10),
        (1, 0, 10),
        (2, 0, 3),
    ]
    assert torrent_spans(10, 5, 5) == []
