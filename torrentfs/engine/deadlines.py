"""The pieces a torrent was asked for and when they are due: set on libtorrent's handle,
and set again on the new handle after every rejoin."""

from __future__ import annotations

from collections.abc import Iterator

import libtorrent as lt
import trio

from torrentfs.engine.settings import READ_AHEAD_PRIORITY
from torrentfs.wakeup import Wakeup


class Deadlines:
    """Pieces asked for and not arrived -> when they are due (trio clock).

    They stay wanted across every rejoin, and are wanted from the moment the
    torrent is added: a torrent that wants nothing is "finished", and any
    moment with nothing wanted tells peers "not interested", which aria2 and
    rtorrent answer with a choke until their next choke round.
    """

    def __init__(self) -> None:
        self._due: dict[int, float] = {}
        # Raised whenever a piece is asked for: what a forget refused for want
        # of anything wanted waits for.
        self.asked = Wakeup()

    def __contains__(self, piece: object) -> bool:
        return piece in self._due

    def __iter__(self) -> Iterator[int]:
        return iter(self._due)

    def __len__(self) -> int:
        return len(self._due)

    def add(self, piece: int, deadline_ms: int, handle: lt.torrent_handle | None) -> None:
        """Want `piece` by `deadline_ms` from now; set it on `handle` if in the session."""
        self._due[piece] = trio.current_time() + deadline_ms / 1000
        self.asked.set()
        if handle is not None:
            _set(handle, piece, deadline_ms)

    def arrived(self, piece: int) -> None:
        self._due.pop(piece, None)

    def cancel(self, piece: int, handle: lt.torrent_handle | None, priority: int) -> None:
        """No longer due; on `handle`, its deadline reset and its priority `priority`."""
        self._due.pop(piece, None)
        if handle is not None:
            handle.reset_piece_deadline(piece)
            handle.piece_priority(piece, priority)

    def replay(self, handle: lt.torrent_handle) -> None:
        """Set every deadline on a handle just added, each as much sooner as time went by."""
        now = trio.current_time()
        for piece, due in self._due.items():
            _set(handle, piece, max(0, round((due - now) * 1000)))


def _set(handle: lt.torrent_handle, piece: int, deadline_ms: int) -> None:
    handle.set_piece_deadline(piece, deadline_ms, lt.torrent_handle.alert_when_available)
    if deadline_ms > 0:
        # Below the pieces reads wait for (due now, top priority): the picker
        # fills each peer's request queue, seconds deep, from the highest
        # priority down, and read-ahead at the same priority was queued ahead
        # of the piece a seek waited for (mpv: 3 s).
        handle.piece_priority(piece, READ_AHEAD_PRIORITY)
