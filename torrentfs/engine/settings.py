"""What the engine tells libtorrent, each choice with the reason for it.

Users set none of these (their settings are in `torrentfs.core.config`); they
are measured answers to how libtorrent and real peers behave
(docs/architecture.md, "Measured facts").
"""

from __future__ import annotations

import libtorrent as lt

from torrentfs import __version__
from torrentfs.core.config import NetworkSettings

# Alerts libtorrent may hold before it starts dropping them; read_piece
# alerts for a burst of read-ahead pieces must not be lost.
ALERT_QUEUE_SIZE = 100_000
# A torrent whose wanted pieces are all in tells seeds it is upload-only, and
# they hang up; libtorrent's default 60 s before dialing again would stall
# the next read that long.
MIN_RECONNECT_TIME_S = 1
# libtorrent dials new peers and hands out bandwidth once per tick; at the
# default 500 ms the first connection alone waited half a second.
TICK_INTERVAL_MS = 100
# Ask a peer for whole pieces when it can send one within this many seconds:
# with several rate-limited seeds, pieces split between them all finished
# late, and a walk through small files ran at 1.9 MB/s of 4 instead of 2.9.
WHOLE_PIECES_THRESHOLD_S = 5
# libtorrent 2.1's default disk back end (pread_disk_io) hashes blocks in its
# write cache and crashed (null pointer in hasher::update, hasher thread)
# when a torrent was taken out of the session while blocks were still being
# hashed, which every forget does. The memory-mapped back end, libtorrent
# 2.0's default, has no write cache.
DISK_IO_CONSTRUCTOR = "mmap_disk_io_constructor"
# peer: bans after failed hash checks (peer_ban_alert).
ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.peer
)

# What a piece a read waits for gets: libtorrent's top priority; pieces
# read ahead get the one below.
DEADLINE_PRIORITY = 7
READ_AHEAD_PRIORITY = 6
# The priority of pieces nobody reads with --download-all: the lowest that
# still downloads, so any deadline goes first.
BACKGROUND_PRIORITY = 1
# With pieces wanted and no peer connected this long, the torrent is added to the
# session again, so that libtorrent dials every peer it knows afresh and announces:
# twice libtorrent's 30 s wait for a silent tracker, so that adding it again never keeps
# the torrent from reaching the next tracker tier.
ALONE_REJOIN_S = 60.0
# A torrent's requests are not withdrawn (upload mode on and off) this soon after it
# joined the session: its first connections are being made, and a handshake sent in
# upload mode makes a seed hang up for good.
SETTLING_AFTER_JOIN_S = 3.0
# How long to wait for libtorrent's resume data, or for a torrent to leave
# the session.
ALERT_TIMEOUT_S = 10.0
# With no peer connected, dial the given peers again this often: libtorrent
# stops dialing a peer after a few failed attempts, a peer may refuse us
# until it has loaded the torrent, and a seeder that went away may come back.
# Trackers and DHT are left to libtorrent's own schedule: re-adding the
# torrent would restart its tracker tiers, and a hung first tier would then
# never time out (30 s) into the next.
PEER_RETRY_INTERVAL_S = 1.0


def session_settings(network: NetworkSettings) -> lt.settings_pack:
    """libtorrent settings for a streaming session with these network choices."""
    return {
        "listen_interfaces": network.listen,
        "enable_dht": network.dht,
        "enable_lsd": network.lsd,
        "enable_upnp": network.upnp,
        "enable_natpmp": network.natpmp,
        "alert_mask": ALERT_MASK,
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


def session_params(network: NetworkSettings) -> lt.session_params:
    params = lt.session_params(session_settings(network))
    params.disk_io_constructor = DISK_IO_CONSTRUCTOR
    return params
