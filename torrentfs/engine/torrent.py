"""One torrent's life in a libtorrent session, as a state machine.

A `Torrent` is created by `Session.add_torrent`, added to libtorrent by
`start()`, and from then on moves between the states of `TorrentState`,
every move made and logged by its `Lifecycle`. It keeps the pieces asked for, so a
request made while it is out of the session is replayed when it comes back;
it hands verified pieces straight to the consumer its listener names. How
it joins, rejoins and leaves the session (to forget pieces, lift bans, or
cost nothing while nobody reads) is its base, `SessionMembership`.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import libtorrent as lt
import trio

from torrentfs.engine import peers, status
from torrentfs.engine.lifecycle import TorrentState
from torrentfs.engine.listener import TorrentListener
from torrentfs.engine.membership import SessionMembership
from torrentfs.engine.settings import SETTLING_AFTER_JOIN_S

log = logging.getLogger(__name__)


class Torrent(SessionMembership):
    """One torrent, from `Session.add_torrent` until `close()`."""

    def start(self, listener: TorrentListener) -> None:
        """Add the torrent to libtorrent; `listener` hears of the metadata (at once if known).

        Added running, never paused and resumed: a torrent resumed after an
        add connects to a uTP peer with libtorrent's default 500 ms tick
        only after the 15 s connect timeout.
        """
        assert self._life.state is TorrentState.CREATED, "a torrent starts once"
        self._listener = listener
        if self.layout is not None:
            self._consumer = listener.metadata_ready(self.layout)
            if self._budget is not None:
                # Disk mode: what an earlier mount left counts against the limit.
                self._budget.count_resumed(self._params.have_pieces, self.layout)
        self._add(self._params, TorrentState.ACTIVE)
        if self._run_when_started is not None:
            self._run_when_started(self)

    async def run(self) -> None:
        """The torrent's own background work, until cancelled (the session starts it when
        the torrent starts)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                self._peers.run, self._handle_to_dial_from, self._lift_bans, self._joined.wait
            )
            if self._budget is not None:
                nursery.start_soon(self._budget.run)
            nursery.start_soon(self._rejoin_when_woken)
            if self._leaves_when_disconnected:
                nursery.start_soon(self._leave_when_due)

    # What reads ask for

    def request_piece(self, piece: int, deadline_ms: int) -> None:
        """Fetch `piece` by `deadline_ms` from now and deliver its bytes once verified.

        Kept while the torrent is out of the session, and asked for again
        when it comes back.
        """
        self._deadlines.add(piece, deadline_ms, self._in_session_handle())

    def cancel_piece(self, piece: int) -> None:
        """Stop fetching `piece` ahead of the rest: no deadline, background priority."""
        self._deadlines.cancel(piece, self._in_session_handle(), self._life.background_priority())

    def withdraw_sent_requests(self) -> None:
        """Cancel the requests sent to peers, so that the pieces wanted now go first; not
        in the first seconds after joining the session, while its connections are made."""
        handle = self._in_session_handle()
        if handle is not None and trio.current_time() - self._joined_at >= SETTLING_AFTER_JOIN_S:
            peers.withdraw_sent_requests(handle)

    def wanted_pieces(self) -> list[int]:
        """Pieces libtorrent would still download (none while out of the session)."""
        return status.wanted_pieces(self._handle) if self._life.in_session else []

    def had_pieces(self) -> list[int]:
        """Pieces libtorrent has verified in its files (none while out of the session)."""
        return status.had_pieces(self._handle) if self._life.in_session else []

    @property
    def in_ram(self) -> bool:
        return self._storage.in_ram

    @property
    def working_files_bytes(self) -> int | None:
        """Bytes of verified pieces in the working files, if they have a budget."""
        return self._budget.bytes if self._budget is not None else None

    # Idle and wake-up

    def go_idle(self) -> None:
        """Nobody reads: fetch nothing new (--download-all goes on if told to while idle)."""
        self._settle(TorrentState.IDLE)

    def disconnect(self) -> None:
        """Pause the torrent: no connections at all until `wake()` (and out of the session
        soon after, if it leaves when disconnected)."""
        self._settle(TorrentState.DISCONNECTED)
        if self._life.state is TorrentState.DISCONNECTED:
            self._handle.pause()
            if self._leaves_when_disconnected:
                self._leave_due.set()

    def wake(self) -> None:
        """A read came: active again, and back into the swarm if disconnected.

        By adding the torrent again: one that is paused and resumed does not
        dial its peers again for many seconds (docs/architecture.md, "Measured facts").
        """
        if self._life.state is TorrentState.DORMANT:
            self._add(self._params, TorrentState.ACTIVE)
            return
        was = self._life.settled
        self._settle(TorrentState.ACTIVE)
        if was is TorrentState.DISCONNECTED:
            self._rejoin_due.set()

    # Alerts (the session passes on those of this torrent)

    def handle_alert(self, alert: lt.alert) -> None:
        if isinstance(alert, lt.read_piece_alert):
            self._read_piece_done(alert)
        elif isinstance(alert, lt.metadata_received_alert):
            self._metadata_received()
        elif isinstance(alert, lt.save_resume_data_alert):
            self._resume.arrived(alert)
        elif isinstance(alert, lt.torrent_removed_alert):
            self._removal.confirmed()
        elif isinstance(alert, lt.torrent_checked_alert):
            self._resume.checked()
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            self._resume.failed(alert)
        elif isinstance(alert, lt.peer_ban_alert):
            self._peers.banned(alert.endpoint[0])
        elif isinstance(alert, lt.hash_failed_alert):
            log.warning("piece %d failed its hash check; fetching it again", alert.piece_index)
        elif alert.category() & lt.alert_category.error:
            log.warning("libtorrent: %s", alert.message())

    def _read_piece_done(self, alert: lt.read_piece_alert) -> None:
        if alert.error.value() == errno.ECANCELED:
            # The torrent left the session; its deadline is set again when it is back.
            log.debug("reading piece %d cancelled", alert.piece)
            return
        assert self._consumer is not None, "pieces come after the metadata"
        if alert.error.value():
            self._consumer.piece_failed(alert.piece, alert.error.message())
            return
        self._deadlines.arrived(alert.piece)
        self._consumer.piece_arrived(alert.piece, alert.buffer)
        if self._budget is not None:
            self._budget.kept(alert.piece, len(alert.buffer))

    def _metadata_received(self) -> None:
        info = self._handle.torrent_file()
        assert info is not None, "the metadata has come"
        self._learn_files(info, Path(self._handle.status().save_path))
        assert self.layout is not None and self._listener is not None
        self._consumer = self._listener.metadata_ready(self.layout)
        log.info(
            "metadata received: %s, %d files, %d pieces of %d KiB",
            self.layout.name,
            len(self.layout.files),
            self.layout.num_pieces,
            self.layout.piece_length // 1024,
        )
        # Every piece was wanted until now (the files have their default
        # priority, and a file at 0 would keep its pieces in a part file where
        # they cannot be forgotten one by one). The listener has asked for its
        # first pieces before the rest drop to the background priority, so the
        # peers never hear "not interested" in between.
        self._life.enter(TorrentState.ACTIVE)
        self._handle.prioritize_pieces(self._piece_priorities())
        self._handle.unset_flags(lt.torrent_flags.upload_mode)
