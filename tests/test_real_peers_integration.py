"""Real mounts against peers that are not our fast-ticking libtorrent seeders.

A libtorrent seeder with default settings (500 ms tick, uTP on: qBittorrent,
Deluge), aria2, a peer that refuses the first connection and a hung tracker.
Each test guards a fix: it failed before the fix, against its bound.
"""

import time

import pytest

from torrentfs.bench.tracker import LoopbackTracker, SilentTracker
from torrentfs.loopback import Aria2Seeder, Seeder, free_port, info_hash_of, magnet_for

pytestmark = pytest.mark.mount

# Far above what a working mount takes, below the 15 s that a paused add cost.
METADATA_BOUND = "8s"
# libtorrent gives a silent tracker 30 s before it tries the next tier.
TRACKER_FALLTHROUGH_BOUND = "60s"
SHUTDOWN_BOUND_S = 5.0
LOG_WAIT_S = 20.0


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


def test_an_aria2_seeder_streams_the_whole_file(multi_file, tmp_path, mount):
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(multi_file.data)
    address = "127.0.0.5"
    with Aria2Seeder(torrent, multi_file.parent, address, free_port(address)) as seeder:
        mounted = mount(magnet_for(multi_file.data, [seeder.endpoint]))
        for relative, expected in multi_file.files().items():
            assert (mounted.mountpoint / relative).read_bytes() == expected, relative
        _unmounts_in_time(mounted)


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
