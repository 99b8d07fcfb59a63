"""The peers a torrent is given and the bans libtorrent hands out: who to dial, and when.

libtorrent stops dialing a peer after a few failed attempts, a peer may
refuse us until it has loaded the torrent, and a seeder that went away may
come back; so while no peer is connected and something is wanted, the given
peers are dialed again every `PEER_RETRY_INTERVAL_S`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import libtorrent as lt
import trio

from torrentfs.core.peer_clients import forgives_interest_flicker
from torrentfs.engine.settings import ALONE_REJOIN_S, PEER_RETRY_INTERVAL_S
from torrentfs.engine.status import CHECKING_STATES

log = logging.getLogger(__name__)

Address = tuple[str, int]


class TorrentPeers:
    """One torrent's given peers (from the source and --peer) and its banned ones."""

    def __init__(self, given: list[Address]) -> None:
        self.given = given
        # Since the torrent was last added: bans come back with resume data.
        self._banned: set[str] = set()
        self._dialing = False
        # Since when no peer has been connected while something is wanted (trio clock).
        self._alone_since: float | None = None

    def dial_given(self, handle: lt.torrent_handle) -> None:
        """Dial every given peer over TCP: a torrent added back from resume data saved
        while no peer was connected would otherwise know none."""
        _dial(handle, self.given)

    def to_rejoin(self, handle: lt.torrent_handle, params: lt.add_torrent_params) -> list[Address]:
        """The connected peers and those in the resume data, once each (the given ones are
        dialed after the add)."""
        connected = [peer.ip for peer in handle.get_peer_info()]
        given = set(self.given)
        return [peer for peer in dict.fromkeys([*connected, *params.peers]) if peer not in given]

    def banned(self, address: str) -> None:
        if address not in self._banned:
            self._banned.add(address)
            log.warning("banned %s: it sent blocks of pieces that failed their hash", address)

    def lift_bans(self, params: lt.add_torrent_params) -> None:
        params.banned_peers = []
        self._banned.clear()

    async def run(
        self,
        handle_to_dial_from: Callable[[], lt.torrent_handle | None],
        lift_bans: Callable[[], Awaitable[None]],
        joined: Callable[[], Awaitable[None]],
    ) -> None:
        """Until cancelled: `look_after` the torrent's peers every `PEER_RETRY_INTERVAL_S`
        while it has a handle to dial from (in the session, not paused); without one, sleep
        until `joined` returns (the torrent added again, or resumed), so a library's
        torrents out of the swarm cost no wake-ups."""
        while True:
            await trio.sleep(PEER_RETRY_INTERVAL_S)
            handle = handle_to_dial_from()
            if handle is None:
                await joined()
            elif self.look_after(handle):
                await lift_bans()

    def look_after(self, handle: lt.torrent_handle) -> bool:
        """One round: dial the given peers if none is connected and something is wanted.

        True when the torrent must be added again: when every peer is gone and some are
        banned (bans are lifted only that way), or when no peer has been connected for
        `ALONE_REJOIN_S` while something is wanted. libtorrent bans
        every peer that sent a block of a piece failing its hash, and deadline
        pieces take blocks from several peers at once, so one liar gets the
        honest peers banned with it (measured: 3 runs in 8 left none). The
        liar's pieces still fail their hash and never reach a read.
        """
        status = handle.status()
        # A torrent checking its files dials nobody, and adding it again would
        # start the check over.
        busy = status.num_peers or status.state in CHECKING_STATES
        if busy or (status.has_metadata and status.is_finished):
            self._dialing = False
            self._alone_since = None
            return False
        if self._banned and status.has_metadata:
            log.info("every peer is gone, %d banned: lifting the bans", len(self._banned))
            return True
        now = trio.current_time()
        if self._alone_since is None:
            self._alone_since = now
        elif status.has_metadata and now - self._alone_since >= ALONE_REJOIN_S:
            # libtorrent can stop dialing the peers it knows (a seed that hung up on a
            # handshake is never dialed again); added back, it dials them afresh and
            # announces again. Seen once: a read waited 17 minutes with no peer.
            log.info("no peer for %.0f s with pieces wanted: joining the swarm again",
                     now - self._alone_since)  # fmt: skip
            self._alone_since = None
            return True
        # A peer still being dialed is left to it: dialing it again would
        # start its connection over.
        dialed = {peer.ip for peer in handle.get_peer_info()}
        idle = [peer for peer in self.given if peer not in dialed]
        if idle and not self._dialing:
            self._dialing = True
            peers = ", ".join(f"{host}:{port}" for host, port in idle)
            log.info("no peer connected: dialing %s every %.0f s", peers, PEER_RETRY_INTERVAL_S)
        _dial(handle, idle)
        return False


def _dial(handle: lt.torrent_handle, peers: list[Address]) -> None:
    # As if a tracker named them: libtorrent counts a peer's failed dials and
    # never dials it again after `max_failcount` (3; 5 s of a seeder being
    # down at our 1 s reconnect time), and only a peer a tracker names again
    # gets a failure taken back. Named by us, a seeder that came back after
    # 6 s was never dialed again; named as by a tracker, in 0.2 s.
    for peer in peers:
        handle.connect_peer(peer, lt.peer_info.tracker)


def withdraw_sent_requests(handle: lt.torrent_handle) -> bool:
    """Cancel the block requests sent to every peer of the torrent, so that what is wanted
    now is asked for first; False, and nothing done, while a connected seed would choke us
    for the "not interested" this costs (`torrentfs.core.peer_clients`), or while a peer is
    still connecting.

    libtorrent never cancels a request already sent when a piece's deadline or priority
    changes, and a peer answers in the order it was asked: a seek's pieces waited behind
    seconds of a read-ahead window nobody would read. Upload mode cancels every request
    (the peers reject them), and leaving it asks again for every piece still wanted.
    """
    if handle.flags() & lt.torrent_flags.upload_mode:
        # A magnet's first moments: it stays there until its priorities are set.
        return False
    peers = handle.get_peer_info()
    if any(peer.flags & (lt.peer_info.connecting | lt.peer_info.handshake) for peer in peers):
        # In upload mode a torrent says "upload only" in the handshakes it sends, and a
        # seed told that hangs up and is never dialed again (a read after a forget waited
        # forever with no peer): never while a handshake may go out.
        return False
    seeds = [peer for peer in peers if peer.flags & lt.peer_info.seed]
    if not all(forgives_interest_flicker(peer.pid.to_bytes()) for peer in seeds):
        log.debug("requests left with the peers: a seed would choke us for withdrawing them")
        return False
    handle.set_flags(lt.torrent_flags.upload_mode)
    handle.unset_flags(lt.torrent_flags.upload_mode)
    log.debug("withdrew the requests sent to %d peers", len(peers))
    return True
