"""From claims to pieces: the one place that asks the engine for pieces.

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
from typing import Protocol

import trio

from torrentfs.core.config import StreamSettings
from torrentfs.core.store import PieceStore, StoreBudget

log = logging.getLogger(__name__)

# A window deadline is moved earlier only when it gains at least this much:
# a sliding window would otherwise re-send every deadline on every piece.
DEADLINE_SLACK_S = 1.0
# Never fewer pieces in flight than this, however large the pieces.
MIN_PIECES_IN_FLIGHT = 4
# Owner of the window part that runs past the end of a file read from its
# start: the next reader of a small-file walk finds it still wanted.
WALK_OWNER = "walk"


class PieceRequester(Protocol):
    def request_piece(self, piece: int, deadline_ms: int) -> None: ...

    def cancel_piece(self, piece: int) -> None: ...

    def withdraw_sent_requests(self) -> None: ...


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
        shared: StoreBudget | None = None,
    ) -> None:
        """`shared`: a budget shared with other torrents' fetchers (a library's)."""
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
        self.store = PieceStore(cache_bytes, protected=self._claimants, shared=shared)
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
        withdrawn = False
        for piece in previous.keys() - wanted.keys():
            owners = self._claimants[piece]
            owners.discard(owner)
            if not owners:
                del self._claimants[piece]
                del self._due[piece]
                if leave_in_flight and piece == left:
                    self._released_in_flight.add(piece)
                elif piece not in about_to_wait:
                    withdrawn |= self._cancel_if_unwanted(piece)
        if wanted:
            self._claims[owner] = wanted
        else:
            self._claims.pop(owner, None)
        self._fill_flight()
        if wanted:
            # Withdrawn only now, after the new claim went out: libtorrent
            # stays interested throughout.
            for piece in self._released_in_flight:
                withdrawn |= self._cancel_if_unwanted(piece)
            self._released_in_flight.clear()
        if withdrawn and self._pending:
            # Pieces nobody wants any more were already asked of peers, which answer in the
            # order they were asked: withdrawn there too, the pieces wanted now go first.
            self._requester.withdraw_sent_requests()

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

    def _cancel_if_unwanted(self, piece: int, even_if_claimed: bool = False) -> bool:
        """Withdraw `piece` from libtorrent if it is in flight and nobody wants it; whether
        it was."""
        pending = self._pending.get(piece)
        if pending is None or pending.waiters:
            return False
        if piece in self._claimants and not even_if_claimed:
            return False
        del self._pending[piece]
        self._requester.cancel_piece(piece)
        return True
