"""The BitTorrent side: one libtorrent session with one torrent, and its alert pump.

This is the only module of the mount that imports libtorrent. It turns a
`Source` into a torrent in a session tuned for streaming, sets piece
deadlines on request, and reports what libtorrent says (metadata, pieces,
errors) to an `EngineListener` from a trio task.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import re
import socket
from pathlib import Path
from typing import Protocol

import libtorrent as lt
import trio

from torrentfs import __version__
from torrentfs.closing import Closing
from torrentfs.config import NetworkSettings, StorageMode
from torrentfs.errors import UserError
from torrentfs.layout import FileEntry, TorrentLayout
from torrentfs.source import Peer, Source
from torrentfs.status_schema import TorrentStatus
from torrentfs.storage import Storage, punch_hole

log = logging.getLogger(__name__)

# Alerts libtorrent may hold before it starts dropping them; read_piece
# alerts for a burst of read-ahead pieces must not be lost.
ALERT_QUEUE_SIZE = 100_000
# A torrent whose wanted pieces are all in tells seeds it is upload-only, and
# they hang up; libtorrent's default 60 s before dialing again would stall
# the next read that long (docs/architecture.md, "Measured facts").
MIN_RECONNECT_TIME_S = 1
# libtorrent dials new peers and hands out bandwidth once per tick; at the
# default 500 ms the first connection alone waited half a second.
TICK_INTERVAL_MS = 100
# Ask a peer for whole pieces when it can send one within this many seconds:
# with several rate-limited seeds, pieces split between them all finished
# late, and a walk through small files ran at 1.9 MB/s of 4 instead of 2.9.
WHOLE_PIECES_THRESHOLD_S = 5
# The priority of pieces nobody reads with --download-all: the lowest that
# still downloads, so any deadline goes first.
BACKGROUND_PRIORITY = 1
RESUME_SAVE_TIMEOUT_S = 10.0
# With no peer connected, dial the given peers again this often: libtorrent
# stops dialing a peer after a few failed attempts, a peer may refuse us
# until it has loaded the torrent, and a seeder that went away may come back.
# Trackers and DHT are left to libtorrent's own schedule: re-adding the
# torrent would restart its tracker tiers, and a hung first tier would then
# never time out (30 s) into the next.
PEER_RETRY_INTERVAL_S = 1.0
# What a piece a read waits for gets: libtorrent's top priority; pieces
# read ahead get the one below.
DEADLINE_PRIORITY = 7
READ_AHEAD_PRIORITY = 6
# libtorrent 2.1's default disk back end (pread_disk_io) hashes blocks in its
# write cache and crashed (null pointer in hasher::update, hasher thread)
# when a torrent was taken out of the session while blocks were still being
# hashed, which every forget does. The memory-mapped back end, libtorrent
# 2.0's default, has no write cache (docs/architecture.md, "Measured facts").
DISK_IO_CONSTRUCTOR = "mmap_disk_io_constructor"
# peer: bans after failed hash checks (peer_ban_alert).
_ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.peer
)


class EngineListener(Protocol):
    def metadata_ready(self, layout: TorrentLayout) -> None: ...

    def piece_arrived(self, piece: int, data: bytes) -> None: ...

    def piece_failed(self, piece: int, reason: str) -> None: ...

    def torrent_rejoined(self) -> None:
        """The torrent was re-added: every piece still wanted must be asked for again."""


def session_settings(network: NetworkSettings) -> lt.settings_pack:
    """libtorrent settings for a streaming session with these network choices."""
    return {
        "listen_interfaces": network.listen,
        "enable_dht": network.dht,
        "enable_lsd": network.lsd,
        "enable_upnp": network.upnp,
        "enable_natpmp": network.natpmp,
        "alert_mask": _ALERT_MASK,
        "alert_queue_size": ALERT_QUEUE_SIZE,
        "min_reconnect_time": MIN_RECONNECT_TIME_S,
        # Keep seed connections while nothing is wanted, so the next read
        # does not pay for a reconnect.
        "close_redundant_connections": False,
        "tick_interval": TICK_INTERVAL_MS,
        # Outgoing connections over TCP: libtorrent dials every peer over uTP
        # first, whatever connect_peer is told, and a peer without uTP
        # (aria2, rtorrent, Transmission with uTP off, WebTorrent) costs the
        # 3 s uTP connect timeout before the first byte. Incoming uTP is
        # still accepted.
        "enable_outgoing_utp": False,
        "whole_pieces_threshold": WHOLE_PIECES_THRESHOLD_S,
        "user_agent": f"torrentfs/{__version__}",
    }


class Engine(Closing):
    """One torrent in one libtorrent session, from construction until `close()`.

    `run()` pumps alerts to the listener until cancelled.
    """

    def __init__(
        self,
        source: Source,
        network: NetworkSettings,
        storage: Storage,
        download_all: bool = False,
    ) -> None:
        """Create the session and add the torrent; raises UserError for a bad source."""
        self._source = source
        self._storage = storage
        # Pieces nobody reads go back to this priority: 0, or 1 to fetch
        # everything in the background.
        self._download_all = download_all
        self._background_priority = BACKGROUND_PRIORITY if download_all else 0
        # Paused while nobody reads, until `reconnect()`.
        self._disconnected = False
        self._resume_saved = trio.Event()
        self._resume_data: bytes | None = None
        # One resume-data round trip at a time: a periodic save must not take
        # the alert a forget waits for, nor ask a torrent out of the session.
        self._resume_lock = trio.Lock()
        self._removed = trio.Event()
        # False while the torrent is out of the session to forget pieces.
        self._in_session = True
        self._file_paths: list[Path] = []
        # Peers banned since the torrent was last added (see `_supervise_peers`).
        self._banned: set[str] = set()
        # Pieces asked for and not arrived -> when they are due (trio clock).
        # They stay wanted across every re-add, and are wanted from the moment
        # the torrent is added: a torrent that wants nothing is "finished", and
        # any moment with nothing wanted tells peers "not interested", which
        # aria2 and rtorrent answer with a choke until their next choke round.
        self._deadlines: dict[int, float] = {}
        params = self._add_params(network)
        # The peers the source and --peer name, dialed over TCP at every add:
        # a torrent re-added from resume data saved while no peer was
        # connected would otherwise know none.
        self._given_peers = [_resolve(peer) for peer in (*source.peers, *network.peers)]
        self.info_hash = _hex_info_hash(params.info_hashes)
        params.save_path = str(storage.prepare(self.info_hash))
        params = self._with_resume_data(params)
        self._alert_pipe = os.pipe()
        for fd in self._alert_pipe:
            os.set_blocking(fd, False)
        session_params = lt.session_params(session_settings(network))
        session_params.disk_io_constructor = DISK_IO_CONSTRUCTOR
        self._session = lt.session(session_params)
        self._session.set_alert_fd(self._alert_pipe[1])
        # Added by `start()`, once the first deadlines are known.
        self._params = params
        self._handle = lt.torrent_handle()
        self._in_session = False
        self._last_status = TorrentStatus(
            info_hash=self.info_hash,
            has_metadata=params.ti is not None,
            peers=0,
            download_rate=0,
            upload_rate=0,
            downloaded_bytes=0,
            uploaded_bytes=0,
            listen_port=0,
        )
        self.layout: TorrentLayout | None = None
        if params.ti is not None:
            self.layout = self._read_layout(params.ti, Path(params.save_path))

    def start(self) -> None:
        """Add the torrent to the session, with the pieces requested so far already wanted.

        Added running, never paused and resumed: a torrent resumed after an
        add connects to a uTP peer with libtorrent's default 500 ms tick
        only after the 15 s connect timeout.
        """
        self._add(self._params)

    async def save_resume_data(self) -> None:
        """Disk mode: write what libtorrent has to the cache folder, so a remount finds it."""
        if self._storage.mode is StorageMode.DISK:
            async with self._resume_lock:
                await self._fetch_resume_params()

    async def forget(self, pieces: list[int], listener: EngineListener) -> bool:
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
        async with self._resume_lock:
            forgotten = await self._rejoin(pieces, listener)
        if forgotten:
            log.info("forgot %d pieces to stay within the budget of the working files", len(pieces))
        return forgotten

    def set_background(self, active: bool) -> None:
        """With --download-all: fetch the pieces nobody reads (active), or only those read."""
        priority = BACKGROUND_PRIORITY if self._download_all and active else 0
        if priority == self._background_priority:
            return
        self._background_priority = priority
        if self._in_session and self.layout is not None:
            self._handle.prioritize_pieces(self._piece_priorities(self.layout.num_pieces))

    def disconnect(self) -> None:
        """Pause the torrent: no connections at all until `reconnect()`."""
        self._disconnected = True
        if self._in_session:
            self._handle.pause()

    async def reconnect(self, listener: EngineListener) -> None:
        """Back into the swarm after `disconnect()`.

        By re-adding the torrent: one that is paused and resumed does not
        dial its peers again for many seconds (docs/architecture.md, "Measured facts").
        """
        self._disconnected = False
        async with self._resume_lock:
            if not await self._rejoin([], listener):
                self._handle.resume()

    async def _rejoin(
        self, pieces: list[int], listener: EngineListener, lift_bans: bool = False
    ) -> bool:
        """Take the torrent out and add it back without `pieces`; False if it could not.

        Its bans come back with it (they are in the resume data) unless `lift_bans`.
        """
        params = await self._fetch_resume_params()
        if params is None or self.layout is None:
            return False
        if pieces and not self._wants_pieces():
            # Checked after the resume data came: the last pieces asked for
            # may have arrived meanwhile.
            return False
        params.peers = self._peers_to_rejoin(params)
        if lift_bans:
            params.banned_peers = []
            self._banned.clear()
        have = list(params.have_pieces)
        for piece in pieces:
            if piece < len(have):
                have[piece] = False
        params.have_pieces = have
        # Disk mode: recorded before the bytes go, so a crash in between never
        # leaves resume data that claims a hole.
        self._storage.save_resume_data(lt.write_resume_data_buf(params))
        # What status() answers while the torrent is out of the session.
        self._last_status = self.status()
        self._in_session = False
        self._removed = trio.Event()
        self._session.remove_torrent(self._handle)
        with trio.move_on_after(RESUME_SAVE_TIMEOUT_S):
            await self._removed.wait()
        for piece in pieces:
            self._punch_piece(piece)
        self._add(params)
        listener.torrent_rejoined()
        return True

    def _add(self, params: lt.add_torrent_params) -> None:
        """Add the torrent, running unless disconnected, and set the deadlines asked for."""
        params.flags = _ADD_FLAGS
        if params.ti is not None:
            self._set_priorities(params)
        else:
            # Until the metadata handler has set the piece priorities: left
            # to itself, libtorrent requests random pieces the moment the
            # metadata arrives, and cancelling them stalled Transmission,
            # which never answers a cancel, for libtorrent's 20 s timeout.
            params.flags |= lt.torrent_flags.upload_mode
        if self._disconnected:
            params.flags |= lt.torrent_flags.paused
        self._handle = self._session.add_torrent(params)
        self._in_session = True
        if not self._disconnected:
            self._dial(self._given_peers)
        now = trio.current_time()
        for piece, due in self._deadlines.items():
            self._set_deadline(piece, max(0, round((due - now) * 1000)))

    def _peers_to_rejoin(self, params: lt.add_torrent_params) -> list[tuple[str, int]]:
        """The connected peers and those in the resume data, once each (the given ones are
        dialed after the add)."""
        connected = [peer.ip for peer in self._handle.get_peer_info()]
        given = set(self._given_peers)
        return [peer for peer in dict.fromkeys([*connected, *params.peers]) if peer not in given]

    def _dial(self, peers: list[tuple[str, int]]) -> None:
        for peer in peers:
            self._handle.connect_peer(peer)

    async def _fetch_resume_params(self) -> lt.add_torrent_params | None:
        self._resume_saved = trio.Event()
        self._resume_data = None
        self._handle.save_resume_data(lt.torrent_handle.save_info_dict)
        with trio.move_on_after(RESUME_SAVE_TIMEOUT_S):
            await self._resume_saved.wait()
        return None if self._resume_data is None else lt.read_resume_data(self._resume_data)

    def _punch_piece(self, piece: int) -> None:
        assert self.layout is not None
        start = piece * self.layout.piece_length
        end = start + self.layout.piece_size(piece)
        for file in self.layout.files:
            overlap_start = max(start, file.offset)
            overlap_end = min(end, file.offset + file.size)
            if overlap_start >= overlap_end or file.is_padding:
                continue
            # A file nobody read from was never created.
            with contextlib.suppress(FileNotFoundError):
                punch_hole(
                    self._file_paths[file.index],
                    overlap_start - file.offset,
                    overlap_end - overlap_start,
                )

    def close(self) -> None:
        """Stop the session; it must not outlive the pipe it writes alerts to."""
        # Shutdown may have cancelled a re-add after the torrent left the session.
        if self._in_session and self._handle.is_valid():
            self._session.remove_torrent(self._handle)
        del self._session
        for fd in self._alert_pipe:
            os.close(fd)

    async def run(self, listener: EngineListener) -> None:
        """Until cancelled: deliver alerts to `listener` and look after the peers."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump_alerts, listener)
            nursery.start_soon(self._supervise_peers, listener)

    async def _pump_alerts(self, listener: EngineListener) -> None:
        read_fd = self._alert_pipe[0]
        while True:
            _drain(read_fd)
            for alert in self._session.pop_alerts():
                self._dispatch(alert, listener)
            await trio.lowlevel.wait_readable(read_fd)

    async def _supervise_peers(self, listener: EngineListener) -> None:
        """While no peer is connected and something is wanted (metadata or pieces), dial
        the given peers again; lift bans once they leave no peer."""
        dialing = False
        while True:
            await trio.sleep(PEER_RETRY_INTERVAL_S)
            if not self._in_session or self._disconnected:
                continue
            status = self._handle.status()
            if status.num_peers or (status.has_metadata and status.is_finished):
                dialing = False
                continue
            if self._banned and status.has_metadata:
                # libtorrent bans every peer that sent a block of a piece
                # failing its hash. Deadline pieces take blocks from several
                # peers at once, so one liar gets the honest peers banned with
                # it (measured: 3 runs in 8 left none). A banned peer is never
                # dialed again, and bans can only be lifted by adding the
                # torrent again; the liar's pieces still fail their hash and
                # never reach a read.
                log.info("every peer is gone, %d banned: lifting the bans", len(self._banned))
                async with self._resume_lock:
                    await self._rejoin([], listener, lift_bans=True)
                continue
            # A peer still being dialed is left to it: dialing it again
            # would start its connection over.
            dialed = {peer.ip for peer in self._handle.get_peer_info()}
            idle = [peer for peer in self._given_peers if peer not in dialed]
            if idle and not dialing:
                dialing = True
                peers = ", ".join(f"{host}:{port}" for host, port in idle)
                log.info("no peer connected: dialing %s every %.0f s", peers, PEER_RETRY_INTERVAL_S)
            self._dial(idle)

    def request_piece(self, piece: int, deadline_ms: int) -> None:
        """Fetch `piece` by `deadline_ms` from now and deliver its bytes once verified.

        Asked for while the torrent is out of the session, it is asked for
        again when the torrent comes back.
        """
        self._deadlines[piece] = trio.current_time() + deadline_ms / 1000
        if self._in_session:
            self._set_deadline(piece, deadline_ms)

    def _set_deadline(self, piece: int, deadline_ms: int) -> None:
        self._handle.set_piece_deadline(piece, deadline_ms, lt.torrent_handle.alert_when_available)
        if deadline_ms > 0:
            # Below the pieces reads wait for (due now, top priority): the
            # picker fills each peer's request queue, seconds deep, from the
            # highest priority down, and read-ahead at the same priority was
            # queued ahead of the piece a seek waited for (mpv: 3 s).
            self._handle.piece_priority(piece, READ_AHEAD_PRIORITY)

    def cancel_piece(self, piece: int) -> None:
        """Stop fetching `piece` ahead of the rest: no deadline, background priority."""
        self._deadlines.pop(piece, None)
        if self._in_session:
            self._handle.reset_piece_deadline(piece)
            self._handle.piece_priority(piece, self._background_priority)

    def wanted_pieces(self) -> list[int]:
        """Pieces libtorrent would still download: priority above 0 and not had."""
        if not self._in_session:
            return []
        have = self._handle.status(lt.status_flags_t.query_pieces).pieces
        priorities = self._handle.get_piece_priorities()
        return [p for p, priority in enumerate(priorities) if priority > 0 and not have[p]]

    def had_pieces(self) -> list[int]:
        """Pieces libtorrent has verified in its files."""
        if not self._in_session:
            return []
        have = self._handle.status(lt.status_flags_t.query_pieces).pieces
        return [piece for piece, had in enumerate(have) if had]

    def status(self) -> TorrentStatus:
        if not self._in_session:
            # Before the start, or between removing and re-adding the torrent.
            return self._last_status
        status = self._handle.status()
        return TorrentStatus(
            info_hash=self.info_hash,
            has_metadata=self.layout is not None,
            peers=status.num_peers,
            download_rate=status.download_payload_rate,
            upload_rate=status.upload_payload_rate,
            downloaded_bytes=status.total_payload_download,
            uploaded_bytes=status.total_payload_upload,
            listen_port=self._session.listen_port(),
        )

    def _read_layout(self, info: lt.torrent_info, save_path: Path) -> TorrentLayout:
        files = info.files()
        self._file_paths = [save_path / files.file_path(i) for i in range(files.num_files())]
        return layout_from_torrent_info(info)

    def _with_resume_data(self, params: lt.add_torrent_params) -> lt.add_torrent_params:
        """Disk mode: what an earlier mount fetched, from its resume data."""
        data = self._storage.load_resume_data()
        if data is None:
            return params
        try:
            resumed = lt.read_resume_data(data)
        except RuntimeError as error:
            log.warning("ignoring unreadable resume data (%s)", error)
            return params
        if _hex_info_hash(resumed.info_hashes) != self.info_hash:
            log.warning("ignoring resume data of another torrent")
            return params
        if resumed.ti is None:
            resumed.ti = params.ti
        resumed.save_path = params.save_path
        resumed.trackers = list(resumed.trackers) or list(params.trackers)
        # Flags and piece priorities are this mount's business, not the last
        # one's: `_add` sets them.
        log.info("resuming: %d pieces already in %s", sum(resumed.have_pieces), params.save_path)
        return resumed

    def _add_params(self, network: NetworkSettings) -> lt.add_torrent_params:
        source = self._source
        if source.torrent_data is not None:
            try:
                params = lt.load_torrent_buffer(source.torrent_data)
            except RuntimeError as error:
                # libtorrent ends its messages with its error category: "[bdecode:3]".
                reason = re.sub(r" \[\w+:\d+\]$", "", str(error))
                raise UserError(f"{source.text} is not a valid .torrent file: {reason}") from None
        else:
            params = lt.add_torrent_params()
            params.info_hashes = _info_hashes(source)
            if source.display_name:
                params.name = source.display_name
        if source.trackers:
            params.trackers = list(source.trackers)
        _add_trackers(params, network.trackers)
        return params

    def _set_priorities(self, params: lt.add_torrent_params) -> None:
        """Every file wanted, every piece at the background priority (0: only what is read)
        but those asked for.

        Files at priority 0 would make libtorrent keep pieces in a part file
        of its own layout, where they could not be forgotten one by one.
        """
        assert params.ti is not None
        params.file_priorities = [1] * params.ti.num_files()
        params.piece_priorities = self._piece_priorities(params.ti.num_pieces())

    def _wants_pieces(self) -> bool:
        return bool(self._deadlines) or self._background_priority > 0

    def _piece_priorities(self, num_pieces: int) -> list[int]:
        priorities = [self._background_priority] * num_pieces
        for piece in self._deadlines:
            if piece < num_pieces:
                priorities[piece] = DEADLINE_PRIORITY
        return priorities

    def _dispatch(self, alert: lt.alert, listener: EngineListener) -> None:
        if isinstance(alert, lt.read_piece_alert):
            if alert.error.value() == errno.ECANCELED:
                # The torrent left the session (forgetting pieces); asked again after.
                log.debug("reading piece %d cancelled", alert.piece)
            elif alert.error.value():
                listener.piece_failed(alert.piece, alert.error.message())
            else:
                self._deadlines.pop(alert.piece, None)
                listener.piece_arrived(alert.piece, alert.buffer)
        elif isinstance(alert, lt.metadata_received_alert):
            info = self._handle.torrent_file()
            assert info is not None, "the metadata has come"
            self.layout = self._read_layout(info, Path(self._handle.status().save_path))
            log.info(
                "metadata received: %s, %d files, %d pieces of %d KiB",
                self.layout.name,
                len(self.layout.files),
                self.layout.num_pieces,
                self.layout.piece_length // 1024,
            )
            # Every piece is wanted now (the files have their default
            # priority, and a file at 0 would keep its pieces in a part file
            # where they cannot be forgotten one by one). The listener asks
            # for its first pieces before the rest drop to the background
            # priority, so the peers never hear "not interested" in between.
            listener.metadata_ready(self.layout)
            self._handle.prioritize_pieces(self._piece_priorities(self.layout.num_pieces))
            self._handle.unset_flags(lt.torrent_flags.upload_mode)
        elif isinstance(alert, lt.save_resume_data_alert):
            # Serialised at once: the alert's params die with the next pop_alerts.
            self._resume_data = lt.write_resume_data_buf(alert.params)
            self._storage.save_resume_data(self._resume_data)
            self._resume_saved.set()
        elif isinstance(alert, lt.torrent_removed_alert):
            self._removed.set()
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            log.warning("could not save resume data: %s", alert.message())
            self._resume_saved.set()
        elif isinstance(alert, lt.peer_ban_alert):
            address = alert.endpoint[0]
            if address not in self._banned:
                self._banned.add(address)
                log.warning("banned %s: it sent blocks of pieces that failed their hash", address)
        elif isinstance(alert, lt.hash_failed_alert):
            log.warning("piece %d failed its hash check; fetching it again", alert.piece_index)
        elif alert.category() & lt.alert_category.error:
            log.warning("libtorrent: %s", alert.message())


def layout_from_torrent_info(info: lt.torrent_info) -> TorrentLayout:
    """The pure layout of libtorrent's `torrent_info`."""
    storage = info.files()
    files = []
    for index in range(storage.num_files()):
        parts = tuple(storage.file_path(index).split(os.sep))
        # Multi-file torrents put everything under a folder named after the
        # torrent; the mountpoint already plays that part.
        if len(parts) > 1:
            parts = parts[1:]
        files.append(
            FileEntry(
                index=index,
                path=parts,
                offset=storage.file_offset(index),
                size=storage.file_size(index),
                is_padding=bool(storage.file_flags(index) & lt.file_storage.flag_pad_file),
            )
        )
    return TorrentLayout(
        name=info.name(),
        piece_length=info.piece_length(),
        total_size=info.total_size(),
        files=tuple(files),
        creation_date=info.creation_date(),
    )


def _add_trackers(params: lt.add_torrent_params, urls: tuple[str, ...]) -> None:
    """Append `urls` after the trackers `params` has, each in a tier of its own."""
    if not urls:
        return
    trackers = list(params.trackers)
    tiers = list(params.tracker_tiers)[: len(trackers)]
    tiers += [0] * (len(trackers) - len(tiers))
    next_tier = max(tiers, default=-1) + 1
    params.trackers = [*trackers, *urls]
    params.tracker_tiers = [*tiers, *range(next_tier, next_tier + len(urls))]


def _info_hashes(source: Source) -> lt.info_hash_t:
    v1 = lt.sha1_hash(bytes.fromhex(source.info_hash_v1)) if source.info_hash_v1 else None
    v2 = lt.sha256_hash(bytes.fromhex(source.info_hash_v2)) if source.info_hash_v2 else None
    if v1 is not None and v2 is not None:
        return lt.info_hash_t(v1, v2)
    if v1 is not None:
        return lt.info_hash_t(v1)
    assert v2 is not None, "a source without metadata has an info-hash"
    return lt.info_hash_t(v2)


# Not auto-managed, so libtorrent's queueing never pauses the one torrent we serve.
_ADD_FLAGS = (
    lt.torrent_flags.default_flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
)


def _hex_info_hash(hashes: lt.info_hash_t) -> str:
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _resolve(peer: Peer) -> tuple[str, int]:
    try:
        ipaddress.ip_address(peer.host)
        return (peer.host, peer.port)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(peer.host, peer.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UserError(f"cannot resolve peer {peer}: {error.strerror}") from None
    address = infos[0][4]
    return (str(address[0]), int(address[1]))
