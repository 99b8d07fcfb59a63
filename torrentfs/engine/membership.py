"""A torrent's membership of the libtorrent session: adding it, and every way of taking it
out and bringing it back.

libtorrent can only drop pieces, lift bans or forget a torrent's connections by
removing the torrent and adding it again from its resume data; this is that
machinery, shared by what `Torrent` does (docs/architecture.md, "Memory mode's
budget" and "Measured facts").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import libtorrent as lt
import trio

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.status_schema import TorrentStatus
from torrentfs.engine import add_params, status
from torrentfs.engine.deadlines import Deadlines
from torrentfs.engine.forgetting import BudgetKeeper, FilesBudget
from torrentfs.engine.lifecycle import Background, Lifecycle, TorrentState
from torrentfs.engine.listener import PieceConsumer, TorrentListener
from torrentfs.engine.peers import Address, TorrentPeers
from torrentfs.engine.round_trips import Removal, ResumeData
from torrentfs.engine.storage import Storage, punch_piece
from torrentfs.wakeup import Wakeup

log = logging.getLogger(__name__)


class Runnable(Protocol):
    """What has background work of its own (a `Torrent`) for its session to run."""

    async def run(self) -> None: ...


class SessionMembership:
    """A torrent's place in the libtorrent session: added, rejoined without pieces, left
    and added back, each move through its `Lifecycle`."""

    def __init__(
        self,
        session: lt.session,
        params: lt.add_torrent_params,
        storage: Storage,
        given_peers: list[Address],
        background: Background | None = None,
        files_budget_bytes: FilesBudget | None = None,
        leaves_when_disconnected: bool = False,
        run_when_started: Callable[[Runnable], None] | None = None,
    ) -> None:
        """`leaves_when_disconnected`: a library's torrent, out of the session when
        disconnected, costing only its metadata until read again. `run_when_started`
        runs the torrent's background work (`Torrent.run`) once it is started."""
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
        self._leaves_when_disconnected = leaves_when_disconnected
        self._leave_due = Wakeup()
        # Raised at every add that dials: the peer loop sleeps on it while out of the swarm.
        self._joined = Wakeup()
        # When it was last added to the session (trio clock).
        self._joined_at = 0.0
        self._run_when_started = run_when_started
        self._budget = (
            BudgetKeeper(files_budget_bytes, self.drop_pieces, self._deadlines)
            if files_budget_bytes is not None
            else None
        )
        self._file_paths: list[Path] = []
        # Known from the start for a .torrent (or resume data), else from the metadata.
        self.layout: TorrentLayout | None = None
        self._info: lt.torrent_info | None = None
        if params.ti is not None:
            self._learn_files(params.ti, Path(params.save_path))
        self._last_status = status.not_started(self.info_hash, params.ti is not None)

    @property
    def state(self) -> TorrentState:
        return self._life.state

    @property
    def in_session(self) -> bool:
        return self._life.in_session

    @property
    def rejoining(self) -> bool:
        return self._life.state is TorrentState.REJOINING

    def status(self) -> TorrentStatus:
        if not self._life.in_session:
            # Before the start, or while out of the session.
            return self._last_status
        return status.status_of(
            self._handle, self.info_hash, self.layout is not None, self._session.listen_port()
        )

    # Keeping and forgetting pieces

    async def save_resume_data(self) -> None:
        """Disk mode: write what libtorrent has to the cache folder, so a remount finds it."""
        if self._storage.keeps_resume_data and self._life.in_session:
            async with self._resume.lock:
                await self._resume.fetch(self._handle)

    async def drop_pieces(self, pieces: list[int]) -> bool:
        """Make libtorrent drop verified `pieces` and free their bytes in the working files,
        by a rejoin without them (docs/architecture.md, "Memory mode's budget").

        False (nothing changed) if libtorrent did not give its resume data in
        time, or if nothing is wanted: added back wanting nothing, the torrent
        would lose its seeds for good ("Measured facts").
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
                self._joined.set()

    async def _leave_when_due(self) -> None:
        """Take a disconnected torrent out of the session, to be added back from its resume
        data when read again."""
        while True:
            await self._leave_due.wait()
            async with self._resume.lock:
                if self._life.state is not TorrentState.DISCONNECTED:
                    continue
                params = await self._resume.fetch(self._handle)
                if params is None or self._life.state is not TorrentState.DISCONNECTED:
                    continue
                held = status.had_pieces(self._handle) if self._storage.in_ram else []
                # In RAM, what it holds goes with it: it costs only its metadata.
                add_params.without_pieces(params, held)
                self._params = params
                self._last_status = self.status()
                self._life.leave_to_rejoin()
                await self._removal.remove(self._session, self._handle)
                self._punch(held)
                if self._life.settled is TorrentState.DISCONNECTED:
                    self._life.enter(TorrentState.DORMANT)
                    log.info("%s left the session until read", self.info_hash)
                elif not self._life.is_closed():
                    self._add(params, self._life.settled)

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
        await self._resume.record(params)
        self._last_status = self.status()
        self._life.leave_to_rejoin()
        await self._removal.remove(self._session, self._handle)
        if self._life.state is TorrentState.CLOSED:
            return False
        self._punch(pieces)
        self._add(params, self._life.settled)
        return True

    def _punch(self, pieces: list[int]) -> None:
        """Free `pieces` in the working files, and in their budget."""
        if not pieces:
            return
        assert self.layout is not None
        for piece in pieces:
            punch_piece(self.layout, self._file_paths, piece)
        if self._budget is not None:
            self._budget.dropped(pieces)

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
            self._joined.set()
            self._joined_at = trio.current_time()
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

    def metadata(self) -> bytes | None:
        """A .torrent of this torrent (its info dictionary as it came), once known."""
        if self._info is None:
            return None
        return b"d4:info" + bytes(self._info.info_section()) + b"e"

    def _learn_files(self, info: lt.torrent_info, save_path: Path) -> None:
        self._info = info
        self._file_paths = add_params.file_paths(info, save_path)
        self.layout = add_params.layout_from_torrent_info(info)

    def close(self) -> None:
        """Take the torrent out of the session (the session closes its torrents).

        It lets go of the libtorrent session too: the session must end when
        `Session` closes, before the working files are removed, and a
        torrent object still referenced would otherwise keep it (and its disk
        threads, writing into a removed folder) alive until exit.
        """
        if self._life.in_session and self._handle.is_valid():
            self._session.remove_torrent(self._handle)
        self._life.enter(TorrentState.CLOSED)
        self._handle = lt.torrent_handle()
        del self._session
