"""From reads to pieces: claims with deadlines, and per-open-file readers.

`PieceFetcher` is the single place that asks libtorrent for pieces. Owners
(readers, the start-up preload, a small-file walk) *claim* the pieces they
want with deadlines; a piece nobody claims or waits for any more loses its
deadline and priority, so no bandwidth goes where nobody reads. Pieces come
from the RAM store when they can, and any number of reads can wait for the
same piece. `FileReader` is one open file handle: it turns reads into the
pieces that cover them and keeps its read-ahead window claimed.
"""

import heapq
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

import trio

from torrentfs.config import MEDIA_EXTENSIONS, StreamSettings
from torrentfs.layout import FileEntry, TorrentLayout, assemble
from torrentfs.status_schema import ReaderStatus
from torrentfs.store import PieceStore
from torrentfs.window import (
    RateMeter,
    deadline_step_ms,
    end_pieces,
    is_seek,
    plan_window,
    window_piece_count,
)

log = logging.getLogger(__name__)

# A window deadline is moved earlier only when it gains at least this much:
# a sliding window would otherwise re-send every deadline on every piece.
DEADLINE_SLACK_S = 1.0
# Never fewer pieces in flight than this, however large the pieces.
MIN_PIECES_IN_FLIGHT = 4
# Owner of the window part that runs past the end of a file read from its
# start: the next reader of a small-file walk finds it still wanted.
WALK_OWNER = "walk"


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


class PieceRequester(Protocol):
    def request_piece(self, piece: int, deadline_ms: int) -> None: ...

    def cancel_piece(self, piece: int) -> None: ...


@dataclass
class _PendingPiece:
    due: float
    arrived: trio.Event = field(default_factory=trio.Event)
    data: bytes | None = None
    waiters: int = 0


class PieceFetcher:
    """Pieces by index: from the store at once, or requested, claimed and awaited."""

    def __init__(
        self,
        requester: PieceRequester,
        cache_bytes: int,
        settings: StreamSettings,
        piece_length: int,
    ) -> None:
        self._requester = requester
        self._settings = settings
        # Asked of libtorrent and not arrived: the pieces in flight.
        self._pending: dict[int, _PendingPiece] = {}
        self._claims: dict[Hashable, Mapping[int, int]] = {}
        self._claimants: dict[int, set[Hashable]] = {}
        # When each claimed piece is due (trio clock).
        self._due: dict[int, float] = {}
        self._max_in_flight = max(
            MIN_PIECES_IN_FLIGHT, settings.max_in_flight_bytes // piece_length
        )
        # Pieces someone claims are the last to be evicted.
        self.store = PieceStore(cache_bytes, protected=self._claimants)
        # While suspended (nobody reads), claims are kept but nothing is asked for.
        self._suspended = False
        # Released while in flight and left to arrive until someone claims again.
        self._released_in_flight: set[int] = set()

    def claim(
        self,
        owner: Hashable,
        wanted: Mapping[int, int],
        about_to_wait: Sequence[int] = (),
        leave_in_flight: bool = False,
    ) -> None:
        """Make `wanted` (piece -> deadline in ms) what `owner` wants, replacing its last claim.

        Claimed pieces are asked of libtorrent in order of their deadlines, a
        few at a time, so the swarm's bandwidth goes to the piece needed next
        rather than being spread over a whole window. Pieces `about_to_wait`
        for are not withdrawn when the claim drops them: withdrawn and asked
        for again at once, libtorrent would tell the peers "not interested"
        for a moment, and aria2 answers that with a choke until its next choke
        round, 10 s later. With `leave_in_flight`, the dropped piece in flight
        due soonest is left to arrive until the next claim of anyone.
        """
        now = trio.current_time()
        previous = self._claims.get(owner, {})
        # The one piece a release leaves in flight: the one due soonest.
        left = min(
            (p for p in previous.keys() - wanted.keys() if p in self._pending),
            key=lambda p: self._pending[p].due,
            default=None,
        )
        for piece, deadline_ms in wanted.items():
            self._claimants.setdefault(piece, set()).add(owner)
            due = now + deadline_ms / 1000
            if due < self._due.get(piece, math.inf):
                self._due[piece] = due
                if piece in self._pending:
                    self._request(piece, due, DEADLINE_SLACK_S)
        for piece in previous.keys() - wanted.keys():
            owners = self._claimants[piece]
            owners.discard(owner)
            if not owners:
                del self._claimants[piece]
                del self._due[piece]
                if leave_in_flight and piece == left:
                    self._released_in_flight.add(piece)
                elif piece not in about_to_wait:
                    self._cancel_if_unwanted(piece)
        if wanted:
            self._claims[owner] = wanted
        else:
            self._claims.pop(owner, None)
        self._fill_flight()
        if wanted:
            # Withdrawn only now, after the new claim went out: libtorrent
            # stays interested throughout.
            for piece in self._released_in_flight:
                self._cancel_if_unwanted(piece)
            self._released_in_flight.clear()

    def release(self, owner: Hashable) -> None:
        """Withdraw `owner`'s claim, but for one piece in flight, left to arrive.

        Withdrawn at once, the last claim going would make libtorrent tell the
        peers "not interested", and a program that closes a file and opens it
        again at once (a prober, then the player) would wait for a choke
        round. One piece is enough to bridge that; leaving the whole window
        in flight fetched 8 MB after every playback stopped. The next claim
        withdraws it if it does not want it.
        """
        self.claim(owner, {}, leave_in_flight=True)

    def ask_now(self, pieces: Sequence[int]) -> None:
        """Ask libtorrent at once for those of `pieces` not in the store, due now."""
        now = trio.current_time()
        for piece in pieces:
            self._request(piece, now, 0.0)

    async def get(self, piece: int) -> bytes:
        """The verified bytes of `piece`, waiting for them if they are not in the store.

        Waits as long as it takes; cancel the caller to give up, which also
        withdraws the request if nobody else wants the piece.
        """
        data = self.store.get(piece)
        if data is not None:
            return data
        return await self._wait(piece)

    async def _wait(self, piece: int) -> bytes:
        # The piece may have arrived since the caller looked.
        data = self.store.peek(piece)
        if data is not None:
            return data
        self._request(piece, trio.current_time(), 0.0)
        pending = self._pending[piece]
        pending.waiters += 1
        try:
            while not pending.arrived.is_set():
                with trio.move_on_after(self._settings.piece_reassert_s):
                    await pending.arrived.wait()
                if not pending.arrived.is_set():
                    log.debug("still waiting for piece %d; asking again", piece)
                    self._requester.request_piece(piece, 0)
        finally:
            pending.waiters -= 1
            if not pending.arrived.is_set():
                self._cancel_if_unwanted(piece)
                self._fill_flight()
        assert pending.data is not None
        return pending.data

    async def get_all(self, pieces: Sequence[int]) -> list[bytes]:
        """The bytes of every piece in `pieces`, waiting for all missing ones at once."""
        found = [self.store.get(piece) for piece in pieces]
        missing = [index for index, data in enumerate(found) if data is None]
        if missing:

            async def fetch(index: int) -> None:
                found[index] = await self._wait(pieces[index])

            async with trio.open_nursery() as nursery:
                for index in missing:
                    nursery.start_soon(fetch, index)
        return [data for data in found if data is not None]

    def piece_arrived(self, piece: int, data: bytes) -> None:
        self.store.put(piece, data)
        self._released_in_flight.discard(piece)
        pending = self._pending.pop(piece, None)
        if pending is not None:
            pending.data = data
            pending.arrived.set()
            self._fill_flight()

    def suspend(self) -> None:
        """Withdraw every request nobody waits for, and ask for nothing until `resume()`."""
        self._suspended = True
        self._released_in_flight.clear()
        for piece in list(self._pending):
            self._cancel_if_unwanted(piece, even_if_claimed=True)

    def resume(self) -> None:
        """Ask again for the claimed pieces due soonest."""
        self._suspended = False
        self._fill_flight()

    def piece_failed(self, piece: int, reason: str) -> None:
        # Waiters keep waiting: their periodic re-request asks again.
        log.warning("reading piece %d failed (%s); will ask again", piece, reason)

    @property
    def requested_pieces(self) -> list[int]:
        """Pieces asked of libtorrent and not arrived yet, in order."""
        return sorted(self._pending)

    @property
    def claimed_pieces(self) -> list[int]:
        return sorted(self._claimants)

    def _request(self, piece: int, due: float, slack_s: float) -> None:
        """Ask libtorrent for `piece` by `due`, unless it is already asked for about as soon."""
        if piece in self.store:
            return
        pending = self._pending.get(piece)
        if pending is None:
            self._pending[piece] = _PendingPiece(due)
        elif due >= pending.due - slack_s:
            return
        else:
            pending.due = due
        deadline_ms = max(0, round((due - trio.current_time()) * 1000))
        self._requester.request_piece(piece, deadline_ms)

    def _fill_flight(self) -> None:
        """Ask for the claimed pieces due soonest while fewer than the limit are in flight."""
        room = self._max_in_flight - len(self._pending)
        if room <= 0 or self._suspended:
            return
        waiting = [
            (due, piece)
            for piece, due in self._due.items()
            if piece not in self._pending and piece not in self.store
        ]
        for due, piece in heapq.nsmallest(room, waiting):
            self._request(piece, due, 0.0)

    def _cancel_if_unwanted(self, piece: int, even_if_claimed: bool = False) -> None:
        pending = self._pending.get(piece)
        if pending is None or pending.waiters:
            return
        if piece in self._claimants and not even_if_claimed:
            return
        del self._pending[piece]
        self._requester.cancel_piece(piece)


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
        return ReaderStatus(
            path=self.path,
            position=self._position,
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
