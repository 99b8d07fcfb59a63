"""One torrent's life in a libtorrent session, as a state machine.

A `Torrent` is created by `Session.add_torrent`, added to libtorrent by
`start()`, and from then on moves between the states of `TorrentState`,
every move made and logged by its `Lifecycle`. It keeps the pieces asked for, so a
request made while it is out of the session is replayed when it comes back;
it hands verified pieces straight to the consumer its listener names; and it
keeps libtorrent's working files within their budget by forgetting pieces.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import libtorrent as lt
import trio

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.status_schema import TorrentStatus
from torrentfs.engine import add_params, status
from torrentfs.engine.deadlines import Deadlines
from torrentfs.engine.forgetting import BudgetKeeper
from torrentfs.engine.lifecycle import Background, Lifecycle, TorrentState
from torrentfs.engine.listener import PieceConsumer, TorrentListener
from torrentfs.engine.peers import Address, TorrentPeers
from torrentfs.engine.round_trips import Removal, ResumeData
from torrentfs.engine.storage import Storage, punch_piece
from torrentfs.wakeup import Wakeup

log = logging.getLogger(__name__)


class Torrent:
    """One torrent, from `Session.add_torrent` until `close()`."""

    def __init__(
        self,
        session: lt.session,
        params: lt.add_torrent_params,
        storage: Storage,
        given_peers: list[Address],
        background: Background | None = None,
        files_budget_bytes: int | None = None,
    ) -> None:
        self._session = session
        self._params = params
        self._storage = storage
        self.info_hash = add_params.hex_info_hash(params.info_hashes)
        self._peers = TorrentPeers(given_peers)
        self._life = Lifecycle(self.info_hash, background or Background())
        self._handle = lt.torrent_handle()
        self._listener: TorrentListener | None = None
        self._consumer: PieceConsumer | None = None
        self._deadlines = Deadlines()
        self._resume = ResumeData(storage)
        self._removal = Removal()
        self._rejoin_due = Wakeup()
        self._budget = (
            BudgetKeeper(files_budget_bytes, self.drop_pieces, self._deadlines)
            if files_budget_bytes is not None
            else None
        )
        self._file_paths: list[Path] = []
        # Known from the start for a .torrent (or resume data), else from the metadata.
        self.layout: TorrentLayout | None = None
        if params.ti is not None:
            self._learn_files(params.ti, Path(params.save_path))
        self._last_status = status.not_started(self.info_hash, params.ti is not None)

    @property
    def state(self) -> TorrentState:
        return self._life.state

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

    async def run(self) -> None:
        """The torrent's own background work, until cancelled (the session starts it)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._peers.run, self._handle_to_dial_from, self._lift_bans)
            if self._budget is not None:
                nursery.start_soon(self._budget.run)
            nursery.start_soon(self._rejoin_when_woken)

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

    def wanted_pieces(self) -> list[int]:
        """Pieces libtorrent would still download (none while out of the session)."""
        return status.wanted_pieces(self._handle) if self._life.in_session else []

    def had_pieces(self) -> list[int]:
        """Pieces libtorrent has verified in its files (none while out of the session)."""
        return status.had_pieces(self._handle) if self._life.in_session else []

    @property
    def working_files_bytes(self) -> int | None:
        """Bytes of verified pieces in the working files, if they have a budget."""
        return self._budget.bytes if self._budget is not None else None

    def status(self) -> TorrentStatus:
        if not self._life.in_session:
            # Before the start, or while out of the session.
            return self._last_status
        return status.status_of(
            self._handle, self.info_hash, self.layout is not None, self._session.listen_port()
        )

    # Idle and wake-up

    def go_idle(self) -> None:
        """Nobody reads: fetch nothing new (--download-all goes on if told to while idle)."""
        self._settle(TorrentState.IDLE)

    def disconnect(self) -> None:
        """Pause the torrent: no connections at all until `wake()`."""
        self._settle(TorrentState.DISCONNECTED)
        if self._life.state is TorrentState.DISCONNECTED:
            self._handle.pause()

    def wake(self) -> None:
        """A read came: active again, and back into the swarm if disconnected.

        By adding the torrent again: one that is paused and resumed does not
        dial its peers again for many seconds (docs/architecture.md, "Measured facts").
        """
        was = self._life.settled
        self._settle(TorrentState.ACTIVE)
        if was is TorrentState.DISCONNECTED:
            self._rejoin_due.set()

    # Keeping and forgetting pieces

    async def save_resume_data(self) -> None:
        """Disk mode: write what libtorrent has to the cache folder, so a remount finds it."""
        if self._storage.keeps_resume_data and self._life.in_session:
            async with self._resume.lock:
                await self._resume.fetch(self._handle)

    async def drop_pieces(self, pieces: list[int]) -> bool:
        """Make libtorrent drop verified `pieces` and free their bytes in the working files.

        The bindings offer one way: take the torrent out of the session, punch
        holes where the pieces were, and add it back from its resume data with
        those pieces cleared. It is out of the session before the bytes go, so
        it never uploads a piece it no longer holds. Returns False (nothing
        changed) if libtorrent did not give its resume data in time, or if
        nothing is wanted.

        Added back wanting nothing, the torrent would be "finished": seeds hang
        up on its new connections, and libtorrent never dials them again, even
        once a deadline wants a piece (docs/architecture.md, "Measured facts").
        Nothing arrives while nothing is wanted, so the files cannot outgrow
        their budget before the next piece asked for comes, and the next forget
        with it.
        """
        async with self._resume.lock:
            forgotten = await self._rejoin(pieces)
        if forgotten:
            log.info("forgot %d pieces to stay within the budget of the working files", len(pieces))
        return forgotten

    def _handle_to_dial_from(self) -> lt.torrent_handle | None:
        dialing = self._life.in_session and self._life.state is not TorrentState.DISCONNECTED
        return self._handle if dialing else None

    async def _lift_bans(self) -> None:
        async with self._resume.lock:
            await self._rejoin([], lift_bans=True)

    async def _rejoin_when_woken(self) -> None:
        while True:
            await self._rejoin_due.wait()
            async with self._resume.lock:
                rejoined = await self._rejoin([])
            if not rejoined and self._life.state is TorrentState.ACTIVE:
                self._handle.resume()

    async def _rejoin(self, pieces: list[int], lift_bans: bool = False) -> bool:
        """Take the torrent out and add it back without `pieces`; False if it could not.

        Its bans come back with it (they are in the resume data) unless `lift_bans`.
        """
        if not self._life.in_session:
            return False
        params = await self._resume.fetch(self._handle)
        if params is None or self.layout is None or not self._life.in_session:
            return False
        if pieces and not self._wants_pieces():
            # Checked after the resume data came: the last pieces asked for
            # may have arrived meanwhile.
            return False
        params.peers = self._peers.to_rejoin(self._handle, params)
        if lift_bans:
            self._peers.lift_bans(params)
        add_params.without_pieces(params, pieces)
        # Disk mode: recorded before the bytes go, so a crash in between never
        # leaves resume data that claims a hole.
        self._resume.record(params)
        self._last_status = self.status()
        self._life.leave_to_rejoin()
        await self._removal.remove(self._session, self._handle)
        if self._life.state is TorrentState.CLOSED:
            return False
        assert self.layout is not None
        for piece in pieces:
            punch_piece(self.layout, self._file_paths, piece)
        self._add(params, self._life.settled)
        return True

    # Adding, states and priorities

    def _add(self, params: lt.add_torrent_params, settled: TorrentState) -> None:
        """Add the torrent in state `settled` (or awaiting metadata), with its deadlines."""
        if params.ti is None:
            settled = TorrentState.AWAITING_METADATA
        paused = settled is TorrentState.DISCONNECTED
        add_params.for_add(params, self._life.background_priority(settled), self._deadlines, paused)
        self._handle = self._session.add_torrent(params)
        self._life.enter(settled)
        if not paused:
            self._peers.dial_given(self._handle)
        self._deadlines.replay(self._handle)

    def _settle(self, state: TorrentState) -> None:
        """Move to `state` now, or once back in the session; re-prioritise if that changes."""
        before = self._life.background_priority()
        if self._life.settle(state) and self._life.background_priority() != before:
            self._handle.prioritize_pieces(self._piece_priorities())

    def _wants_pieces(self) -> bool:
        return bool(self._deadlines) or self._life.background_priority() > 0

    def _piece_priorities(self) -> list[int]:
        assert self.layout is not None
        return add_params.piece_priorities(
            self.layout.num_pieces, self._life.background_priority(), self._deadlines
        )

    def _in_session_handle(self) -> lt.torrent_handle | None:
        return self._handle if self._life.in_session else None

    def _learn_files(self, info: lt.torrent_info, save_path: Path) -> None:
        self._file_paths = add_params.file_paths(info, save_path)
        self.layout = add_params.layout_from_torrent_info(info)

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

    def close(self) -> None:
        """Take the torrent out of the session (the session closes its torrents)."""
        if self._life.in_session and self._handle.is_valid():
            self._session.remove_torrent(self._handle)
        self._life.enter(TorrentState.CLOSED)
