"""Real mounts against peers that are not our fast-ticking libtorrent seeders.

A libtorrent seeder with default settings (500 ms tick, uTP on: qBittorrent,
Deluge), aria2, rtorrent, Transmission and WebTorrent, a peer that refuses
the first connection and a hung tracker. Each reads every file of a
multi-file torrent through a magnet and compares the bytes; each unmounts
within 5 s. The foreign seeders are rate-capped so that their bursts and
choke rounds, which stalled torrentfs before, come into play.
"""

import functools
import http.server
import os
import subprocess
import threading
import time

import pytest

from torrentfs_tools.bench.tracker import LoopbackTracker, SilentTracker
from torrentfs_tools.foreign import WEBTORRENT, LoopbackNamespace, free_port
from torrentfs_tools.foreign_clients import (
    Aria2Seeder,
    RtorrentSeeder,
    TransmissionSeeder,
    WebtorrentSeeder,
)
from torrentfs_tools.loopback import Seeder, info_hash_of, magnet_for, with_web_seeds

pytestmark = pytest.mark.mount

# Far above what a working mount takes, below the 15 s that a paused add cost.
METADATA_BOUND = "8s"
# libtorrent gives a silent tracker 30 s before it tries the next tier.
TRACKER_FALLTHROUGH_BOUND = "60s"
SHUTDOWN_BOUND_S = 5.0
LOG_WAIT_S = 20.0
# Slow enough that aria2 and rtorrent send in bursts, fast enough for the suite.
FOREIGN_SEEDER_BYTES_S = 2_000_000


def _unmounts_in_time(mounted) -> None:
    assert mounted.unmount() == 0
    assert mounted.wait_exit(SHUTDOWN_BOUND_S) == 0


def test_a_seeder_with_libtorrent_defaults_sends_metadata_and_pieces(single_file, mount):
    """Added paused and resumed, the torrent reached such a peer only after 15 s."""
    with Seeder(
        single_file.data, single_file.parent, address="127.0.0.4", tick_interval_ms=None
    ) as seeder:
        source = magnet_for(single_file.data, [seeder.endpoint])
        mounted = mount(source, "--metadata-timeout", METADATA_BOUND)
        path = mounted.mountpoint / "movie.bin"
        assert path.read_bytes() == single_file.root.read_bytes()
        _unmounts_in_time(mounted)


def _reads_every_file(sample, mounted) -> None:
    for relative, expected in sample.files().items():
        assert (mounted.mountpoint / relative).read_bytes() == expected, relative
    _unmounts_in_time(mounted)


def test_an_aria2_seeder_is_never_told_not_interested_mid_read(single_file, tmp_path, mount):
    """aria2 sends a second of its upload limit at once; a window smaller than that
    arrived whole, libtorrent said "not interested", and aria2 choked us until its
    next round (10 s): 0.24 MB/s from a 4 MB/s seeder."""
    with Aria2Seeder(
        single_file.torrent_path, single_file.parent, "127.0.0.5", 2 * FOREIGN_SEEDER_BYTES_S
    ) as seeder:
        mounted = mount(magnet_for(single_file.data, [seeder.endpoint]))
        path = mounted.mountpoint / "movie.bin"
        assert path.read_bytes() == single_file.root.read_bytes()
        # Once, at most: when the last piece came and nothing was left to want.
        assert seeder.times_told_not_interested() <= 1
        _unmounts_in_time(mounted)


def test_an_rtorrent_seeder_streams_every_file(multi_file, tmp_path, mount):
    """rtorrent choked us for 20-30 s after a single start-up piece left nothing wanted."""
    with RtorrentSeeder(
        multi_file.data, multi_file.parent, "127.0.0.8", tmp_path, FOREIGN_SEEDER_BYTES_S
    ) as seeder:
        mounted = mount(magnet_for(multi_file.data, [seeder.endpoint]))
        _reads_every_file(multi_file, mounted)


def test_a_transmission_seeder_streams_every_file(multi_file, tmp_path, mount):
    """Transmission never answers a cancel: the random pieces libtorrent asked for at
    metadata time, cancelled by our priorities, blocked its queue for 20 s."""
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(multi_file.data)
    with TransmissionSeeder(
        torrent, multi_file.parent, "127.0.0.10", tmp_path, FOREIGN_SEEDER_BYTES_S
    ) as seeder:
        mounted = mount(magnet_for(multi_file.data, [seeder.endpoint]))
        _reads_every_file(multi_file, mounted)


@pytest.mark.skipif(not WEBTORRENT.exists(), reason="make deps installs webtorrent-cli")
def test_a_webtorrent_seeder_streams_every_file(multi_file, tmp_path, mount):
    """WebTorrent joins the DHT whatever it is told: it and the mount share a namespace
    that has only lo."""
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(multi_file.data)
    with (
        LoopbackNamespace(f"torrentfs-test-{os.getpid()}") as netns,
        WebtorrentSeeder(
            torrent, multi_file.parent, netns, tmp_path, FOREIGN_SEEDER_BYTES_S
        ) as seeder,
    ):
        mounted = mount(magnet_for(multi_file.data, [seeder.endpoint]), prefix=netns.prefix)
        _reads_every_file(multi_file, mounted)


def test_a_peer_that_refuses_the_first_dial_is_dialed_again(single_file, mount):
    address = "127.0.0.6"
    port = free_port(address)
    source = magnet_for(single_file.data, [(address, port)])
    mounted = mount(source, "--metadata-timeout", METADATA_BOUND)
    deadline = time.monotonic() + LOG_WAIT_S
    while "no peer connected: dialing" not in mounted.log_text():
        assert time.monotonic() < deadline, mounted.log_text()
        time.sleep(0.1)
    with Seeder(single_file.data, single_file.parent, address=address, port=port):
        path = mounted.mountpoint / "movie.bin"
        assert path.read_bytes()[:65536] == single_file.root.read_bytes()[:65536]
        _unmounts_in_time(mounted)


def test_a_hung_first_tracker_tier_falls_through_to_the_next(single_file, mount):
    """Re-adding the torrent every 15 s restarted the tiers, so the second was never asked.

    Also: --tracker gives a bare info-hash its trackers.
    """
    with (
        Seeder(single_file.data, single_file.parent, address="127.0.0.7") as seeder,
        SilentTracker() as hung,
        LoopbackTracker([seeder.endpoint]) as working,
    ):
        mounted = mount(
            info_hash_of(single_file.data),
            "--tracker",
            hung.announce_url,
            "--tracker",
            working.announce_url,
            "--metadata-timeout",
            TRACKER_FALLTHROUGH_BOUND,
        )
        log = mounted.log_text()
        assert f"fetching metadata from trackers {hung.announce_url}, " in log
        path = mounted.mountpoint / "movie.bin"
        assert path.read_bytes()[-1000:] == single_file.root.read_bytes()[-1000:]
        _unmounts_in_time(mounted)


def test_nothing_to_fetch_metadata_from_is_one_line_and_mounts_nothing(single_file, mount):
    with pytest.raises(RuntimeError) as raised:
        mount(info_hash_of(single_file.data))
    assert "nothing can send its metadata with --no-dht and no peer or tracker" in str(raised.value)


class _NoRangeHandler(http.server.SimpleHTTPRequestHandler):
    """Answers every request with the whole file, as a server without Range support does,
    and keeps quiet about it."""

    def log_message(self, format, *args):
        pass


def test_a_failing_web_seed_does_not_hold_up_the_unmount(single_file, tmp_path, mount):
    """Twice torrentfs had not exited 20 s after fusermount3 -u."""
    handler = functools.partial(_NoRangeHandler, directory=str(single_file.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.11", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        torrent = tmp_path / "webseed.torrent"
        torrent.write_bytes(
            with_web_seeds(single_file.data, [f"http://127.0.0.11:{server.server_port}/"])
        )
        mounted = mount(torrent)
        # A reader that waits for what the web seed cannot give, then gives up.
        reader = subprocess.run(
            ["timeout", "3", "head", "-c", "65536", str(mounted.mountpoint / "movie.bin")],
            capture_output=True,
            check=False,
        )
        assert reader.returncode in (0, 124)
        _unmounts_in_time(mounted)
        server.shutdown()
