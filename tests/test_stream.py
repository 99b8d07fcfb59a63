"""The read path's logic with a fake requester and trio's MockClock (no swarm)."""

import dataclasses

import trio
import trio.testing

from torrentfs.core.config import StreamSettings
from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.streaming.fetcher import WALK_OWNER, PieceFetcher
from torrentfs.streaming.reader import FileReader, Walk

PIECE = 100
SETTINGS = StreamSettings(
    readahead_s=30,
    readahead_min_bytes=3 * PIECE,
    readahead_max_bytes=8 * PIECE,
    readahead_step_ms=250,
    head_bytes=PIECE,
    tail_bytes=PIECE,
    piece_reassert_s=5.0,
    seek_ahead_bytes=2 * PIECE,
)


class FakeRequester:
    """Records what libtorrent is asked; a test plays libtorrent by delivering pieces."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []
        self.cancels: list[int] = []
        # What was withdrawn in flight when the requests sent to peers were withdrawn.
        self.withdrawals: list[list[int]] = []

    def request_piece(self, piece: int, deadline_ms: int) -> None:
        self.requests.append((piece, deadline_ms))

    def cancel_piece(self, piece: int) -> None:
        self.cancels.append(piece)

    def withdraw_sent_requests(self) -> None:
        self.withdrawals.append(sorted(self.cancels))

    def take(self) -> tuple[list[tuple[int, int]], list[int]]:
        requests, cancels = self.requests, self.cancels
        self.requests, self.cancels = [], []
        return requests, cancels


def _data(piece: int) -> bytes:
    return bytes([piece % 256]) * PIECE


# Files: "intro.bin" [0, 2000), "movie.mkv" [2000, 4000), "next.bin" [4000, 4500).
LAYOUT = TorrentLayout(
    "t",
    PIECE,
    4500,
    (
        FileEntry(0, ("intro.bin",), 0, 2000),
        FileEntry(1, ("movie.mkv",), 2000, 2000),
        FileEntry(2, ("next.bin",), 4000, 500),
    ),
)
INTRO, MOVIE, NEXT = LAYOUT.files


def _fetcher(cache_bytes=100 * PIECE):
    requester = FakeRequester()
    return requester, PieceFetcher(requester, cache_bytes, SETTINGS, PIECE)


def _run(scenario):
    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


async def _read_into(reader, offset, size, into):
    into.append(await reader.read(offset, size))


def test_a_read_waits_for_its_pieces_and_claims_a_staggered_window():
    async def scenario():
        requester, fetcher = _fetcher()
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        result: list[bytes] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_read_into, reader, 150, 100, result)
            await trio.testing.wait_all_tasks_blocked()
            # Both pieces of the read at once (in any order), then the window.
            assert sorted(requester.requests) == [(1, 0), (2, 0), (3, 250), (4, 500), (5, 750)]
            assert fetcher.claimed_pieces == [3, 4, 5]
            fetcher.piece_arrived(1, _data(1))
            fetcher.piece_arrived(2, _data(2))
        assert result == [_data(1)[50:] + _data(2)[:50]]

    _run(scenario)


def test_reads_served_from_the_store_do_not_ask_libtorrent():
    async def scenario():
        requester, fetcher = _fetcher()
        for piece in range(20):
            fetcher.piece_arrived(piece, _data(piece))
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        for offset in range(0, 1500, 50):
            assert await reader.read(offset, 50) == _data(offset // PIECE)[offset % PIECE :][:50]
        assert requester.requests == []

    _run(scenario)


def test_a_seek_moves_the_window_and_cancels_the_old_one():
    """The piece read is asked for before its window: libtorrent fills each peer's
    request queue in the order it is asked."""

    async def scenario():
        requester, fetcher = _fetcher()
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader.read, 0, 10)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.take() == ([(0, 0), (1, 250), (2, 500), (3, 750)], [])
            nursery.start_soon(reader.read, 1500, 10)
            await trio.testing.wait_all_tasks_blocked()
            requests, cancels = requester.take()
            assert requests == [(15, 0), (16, 250), (17, 500), (18, 750)]
            assert sorted(cancels) == [1, 2, 3]  # piece 0 still has a waiting read
            # Withdrawn from the peers too, once, after the old window was cancelled.
            assert requester.withdrawals == [[1, 2, 3]]
            fetcher.piece_arrived(0, _data(0))
            fetcher.piece_arrived(15, _data(15))
        assert fetcher.claimed_pieces == [16, 17, 18]

    _run(scenario)


def test_reading_on_withdraws_nothing_from_the_peers():
    """A window that slides drops only pieces that have arrived: what the peers were asked
    for is still wanted."""

    async def scenario():
        requester, fetcher = _fetcher()
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        for offset in range(0, 1000, 50):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader.read, offset, 50)
                await trio.testing.wait_all_tasks_blocked()
                for piece, _ in requester.take()[0]:
                    fetcher.piece_arrived(piece, _data(piece))
        assert requester.withdrawals == []

    _run(scenario)


def test_a_piece_another_owner_claims_is_not_cancelled():
    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.claim("a", {5: 0, 6: 0})
        fetcher.claim("b", {6: 100})
        fetcher.claim("a", {})
        assert requester.cancels == [5]
        fetcher.claim("b", {})
        assert requester.cancels == [5, 6]

    _run(scenario)


def test_arrived_pieces_are_never_cancelled():
    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.claim("a", {5: 0})
        fetcher.piece_arrived(5, _data(5))
        fetcher.release("a")
        assert requester.cancels == []

    _run(scenario)


def test_closing_a_handle_drops_its_window_and_its_head_and_tail():
    async def scenario():
        requester, fetcher = _fetcher()
        reader = FileReader(LAYOUT, MOVIE, fetcher, SETTINGS, Walk())
        # A media file: its first and last pieces are wanted at once, before any read.
        assert requester.take() == ([(20, 0), (39, 0)], [])
        fetcher.piece_arrived(20, _data(20))
        await reader.read(0, 10)
        assert fetcher.claimed_pieces == [20, 21, 22, 23, 39]
        requester.take()
        reader.close()
        assert fetcher.claimed_pieces == []
        # Of each claim (window, head and tail), the piece due soonest is left
        # to arrive until someone claims again (see the test below).
        assert requester.take() == ([], [22, 23])
        fetcher.claim("next reader", {30: 0})
        requests, cancels = requester.take()
        assert requests == [(30, 0)] and sorted(cancels) == [21, 39]
        assert fetcher.requested_pieces == [30]

    _run(scenario)


def test_files_that_are_not_media_get_no_head_and_tail():
    async def scenario():
        requester, fetcher = _fetcher()
        FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        assert requester.requests == []

    _run(scenario)


def test_a_run_from_the_start_reads_ahead_into_the_next_file():
    async def scenario():
        requester, fetcher = _fetcher()
        for piece in range(20):
            fetcher.piece_arrived(piece, _data(piece))
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        for offset in range(0, 2000, 100):
            await reader.read(offset, 100)
        # The window ran past the end of intro.bin into movie.mkv.
        assert fetcher.claimed_pieces == [20, 21, 22]
        reader.close()
        assert fetcher.claimed_pieces == [20, 21, 22]  # still wanted by the walk
        fetcher.claim(WALK_OWNER, {})
        assert sorted(requester.cancels) == [20, 21, 22]

    _run(scenario)


def test_a_read_at_the_tail_after_a_seek_stays_inside_the_file():
    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.piece_arrived(19, _data(19))
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        await reader.read(1950, 50)
        assert fetcher.claimed_pieces == []
        assert requester.requests == []

    _run(scenario)


def test_the_window_grows_with_the_reading_rate():
    async def scenario():
        _, fetcher = _fetcher()
        for piece in range(45):
            fetcher.piece_arrived(piece, _data(piece))
        reader = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, Walk())
        await reader.read(0, 10)
        assert len(fetcher.claimed_pieces) == 3  # the minimum while the rate is unknown
        for offset in range(10, 1000, 10):
            await trio.sleep(0.1)  # 100 bytes/s: 30 s of it is 3000 bytes, capped at 800
            await reader.read(offset, 10)
        assert len(fetcher.claimed_pieces) == 8

    _run(scenario)


def test_an_earlier_deadline_is_passed_on_a_later_or_slightly_earlier_one_is_not():
    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.claim("a", {7: 3000})
        fetcher.claim("a", {7: 4000})
        fetcher.claim("a", {7: 2500})  # within the slack: not worth a call
        fetcher.claim("a", {7: 500})
        assert requester.requests == [(7, 3000), (7, 500)]

    _run(scenario)


def test_many_waiters_share_one_request_and_get_the_bytes():
    async def scenario():
        requester, fetcher = _fetcher()
        results: list[bytes] = []

        async def wait_piece():
            results.append(await fetcher.get(4))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(wait_piece)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.requests == [(4, 0)]
            fetcher.piece_arrived(4, _data(4))
        assert results == [_data(4)] * 3
        assert fetcher.requested_pieces == []

    _run(scenario)


def test_a_waiter_reasserts_its_deadline_until_the_piece_comes():
    async def scenario():
        requester, fetcher = _fetcher()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher.get, 9)
            await trio.sleep(SETTINGS.piece_reassert_s * 2.5)
            assert requester.requests == [(9, 0), (9, 0), (9, 0)]
            fetcher.piece_failed(9, "read error")
            fetcher.piece_arrived(9, _data(9))

    _run(scenario)


def test_an_abandoned_wait_withdraws_the_request():
    async def scenario():
        requester, fetcher = _fetcher()
        with trio.move_on_after(1):
            await fetcher.get(9)
        assert requester.cancels == [9]
        assert fetcher.requested_pieces == []

    _run(scenario)


def test_a_piece_evicted_before_the_waiter_runs_is_still_delivered():
    async def scenario():
        _, fetcher = _fetcher(cache_bytes=PIECE)
        got: list[bytes] = []

        async def wait_piece():
            got.append(await fetcher.get(1))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_piece)
            await trio.testing.wait_all_tasks_blocked()
            fetcher.piece_arrived(1, _data(1))
            fetcher.piece_arrived(2, _data(2))  # evicts piece 1 from the store
        assert got == [_data(1)]

    _run(scenario)


def test_claimed_pieces_are_evicted_last():
    async def scenario():
        _, fetcher = _fetcher(cache_bytes=3 * PIECE)
        fetcher.claim("window", {0: 0})
        for piece in range(4):
            fetcher.piece_arrived(piece, _data(piece))
        assert 0 in fetcher.store and 1 not in fetcher.store

    _run(scenario)


def test_the_next_file_of_a_walk_keeps_the_walks_rate():
    async def scenario():
        _, fetcher = _fetcher()
        for piece in range(45):
            fetcher.piece_arrived(piece, _data(piece))
        walk = Walk()
        first = FileReader(LAYOUT, INTRO, fetcher, SETTINGS, walk)
        for offset in range(0, 2000, 20):
            await trio.sleep(0.1)  # 200 bytes/s: the window grows to its maximum
            await first.read(offset, 20)
        first.close()
        assert walk.frontier >= 20
        second = FileReader(LAYOUT, MOVIE, fetcher, SETTINGS, walk)
        await second.read(0, 20)
        claimed = set(fetcher.claimed_pieces)
        assert set(range(21, 29)) <= claimed  # the maximum window, not the minimum of 3

    _run(scenario)


def test_claimed_pieces_go_to_libtorrent_a_few_at_a_time_soonest_first():
    async def scenario():
        requester = FakeRequester()
        settings = dataclasses.replace(SETTINGS, max_in_flight_bytes=4 * PIECE)
        fetcher = PieceFetcher(requester, 100 * PIECE, settings, PIECE)
        fetcher.claim("window", {piece: piece * 100 for piece in range(10, 0, -1)})
        assert requester.take()[0] == [(1, 100), (2, 200), (3, 300), (4, 400)]
        fetcher.piece_arrived(2, _data(2))
        assert requester.take()[0] == [(5, 500)]
        # A read needs a piece now: it goes out at once, whatever is in flight.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher.get, 9)
            await trio.testing.wait_all_tasks_blocked()
            assert requester.take()[0] == [(9, 0)]
            fetcher.piece_arrived(9, _data(9))
        fetcher.claim("window", {})
        assert sorted(requester.take()[1]) == [1, 3, 4, 5]

    _run(scenario)


def test_suspended_fetcher_withdraws_requests_keeps_claims_and_resumes_in_deadline_order():
    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.claim("window", {3: 300, 4: 400, 5: 500})
        requester.take()
        fetcher.suspend()
        assert requester.take() == ([], [3, 4, 5])
        fetcher.claim("other", {9: 0})
        assert requester.take() == ([], [])
        assert fetcher.claimed_pieces == [3, 4, 5, 9]
        fetcher.resume()
        requests, _ = requester.take()
        assert [piece for piece, _ in requests] == [9, 3, 4, 5]

    _run(scenario)


def test_a_released_claim_keeps_libtorrent_interested_until_the_next_claim():
    """Closing the last file withdrew every request: libtorrent told the peers "not
    interested", and aria2 choked a program that opened the file again at once for
    its 10 s choke round."""

    async def scenario():
        requester, fetcher = _fetcher()
        fetcher.claim("prober", {5: 0, 6: 100})
        fetcher.piece_arrived(5, _data(5))
        requester.take()
        fetcher.release("prober")
        assert requester.take() == ([], [])
        assert fetcher.requested_pieces == [6]
        # The next claim goes out before the leftover is withdrawn.
        fetcher.claim("player", {5: 0, 7: 100})
        assert requester.take() == ([(7, 100)], [6])

    _run(scenario)
