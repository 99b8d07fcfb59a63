"""The read path's logic with a fake requester and trio's MockClock (no swarm)."""

import trio
import trio.testing

from torrentfs.config import StreamSettings
from torrentfs.layout import FileEntry, TorrentLayout
from torrentfs.store import PieceStore
from torrentfs.stream import FileReader, PieceFetcher, readahead_piece_count

PIECE = 100
SETTINGS = StreamSettings(readahead_bytes=3 * PIECE, readahead_step_ms=250, piece_reassert_s=5.0)


class FakeRequester:
    """Records deadline requests; a test plays libtorrent by delivering pieces."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []

    def request_piece(self, piece: int, deadline_ms: int) -> None:
        self.requests.append((piece, deadline_ms))


def _piece_bytes(piece: int) -> bytes:
    return bytes([piece % 256]) * PIECE


def _setup(file_size=20 * PIECE, file_offset=0, store_budget=10_000):
    layout = TorrentLayout(
        "t",
        PIECE,
        file_offset + file_size + 5 * PIECE,
        (FileEntry(0, ("pre",), 0, file_offset), FileEntry(1, ("f",), file_offset, file_size)),
    )
    requester = FakeRequester()
    fetcher = PieceFetcher(requester, PieceStore(store_budget), SETTINGS)
    reader = FileReader(layout, layout.files[1], fetcher, SETTINGS)
    return layout, requester, fetcher, reader


def _run(test):
    trio.run(test, clock=trio.testing.MockClock(autojump_threshold=0))


def test_readahead_piece_count_has_a_floor_of_two():
    assert readahead_piece_count(1 << 20, 0) == 2
    assert readahead_piece_count(1 << 20, 8 << 20) == 8
    assert readahead_piece_count(1 << 20, (8 << 20) + 1) == 9


def test_a_read_requests_its_pieces_now_and_a_staggered_window_after():
    async def scenario():
        _, requester, fetcher, reader = _setup()
        async with trio.open_nursery() as nursery:
            result: list[bytes] = []
            nursery.start_soon(_collect, reader, 150, 100, result)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.requests == [(1, 0), (2, 0), (3, 250), (4, 500), (5, 750)]
            fetcher.piece_arrived(1, _piece_bytes(1))
            fetcher.piece_arrived(2, _piece_bytes(2))
        assert result[-1] == _piece_bytes(1)[50:] + _piece_bytes(2)[:50]

    _run(scenario)


async def _collect(reader, offset, size, into):
    into.append(await reader.read(offset, size))


def test_sequential_reads_only_extend_the_window():
    async def scenario():
        _, requester, fetcher, reader = _setup()
        for piece in range(20):
            fetcher.piece_arrived(piece, _piece_bytes(piece))
        await reader.read(0, PIECE)
        await reader.read(PIECE, PIECE)
        # Everything was in the store: no request reached libtorrent at all.
        assert requester.requests == []

    _run(scenario)


def test_window_moves_on_seek_and_stops_at_the_end_of_the_file():
    async def scenario():
        _, requester, fetcher, reader = _setup(file_size=20 * PIECE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader.read, 18 * PIECE, 10)
            await trio.testing.wait_all_tasks_blocked()
            # Piece 18 now, then the window: 19 only (20+ belong to no byte of this file).
            assert requester.requests == [(18, 0), (19, 250)]
            requester.requests.clear()
            nursery.start_soon(reader.read, 2 * PIECE, 10)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.requests == [(2, 0), (3, 250), (4, 500), (5, 750)]
            for piece in (2, 18):
                fetcher.piece_arrived(piece, _piece_bytes(piece))

    _run(scenario)


def test_an_earlier_deadline_is_passed_on_a_later_one_is_not():
    async def scenario():
        _, requester, fetcher, _ = _setup()
        fetcher.request(7, 1000)
        fetcher.request(7, 2000)
        fetcher.request(7, 0)
        assert requester.requests == [(7, 1000), (7, 0)]

    _run(scenario)


def test_many_waiters_share_one_request_and_get_the_bytes():
    async def scenario():
        _, requester, fetcher, _ = _setup()
        results = []

        async def wait_piece():
            results.append(await fetcher.get(4))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(wait_piece)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.requests == [(4, 0)]
            fetcher.piece_arrived(4, _piece_bytes(4))
        assert results == [_piece_bytes(4)] * 3
        assert fetcher.pending_pieces == 0

    _run(scenario)


def test_a_waiter_reasserts_its_deadline_until_the_piece_comes():
    async def scenario():
        _, requester, fetcher, _ = _setup()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher.get, 9)
            await trio.sleep(SETTINGS.piece_reassert_s * 2.5)
            assert requester.requests == [(9, 0), (9, 0), (9, 0)]
            fetcher.piece_failed(9, "read error")
            fetcher.piece_arrived(9, _piece_bytes(9))

    _run(scenario)


def test_a_piece_evicted_before_the_waiter_runs_is_still_delivered():
    async def scenario():
        _, _, fetcher, _ = _setup(store_budget=PIECE)
        got = []

        async def wait_piece():
            got.append(await fetcher.get(1))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_piece)
            await trio.testing.wait_all_tasks_blocked()
            fetcher.piece_arrived(1, _piece_bytes(1))
            fetcher.piece_arrived(2, _piece_bytes(2))  # evicts piece 1 from the store
        assert got == [_piece_bytes(1)]

    _run(scenario)
