"""The streaming policy seen from outside: what a real mount asks libtorrent for.

A slow seeder (100 KB/s) keeps pieces in flight long enough to look at them
through the mount's status attribute, which lists the pieces torrentfs
claims and the pieces libtorrent would still download.
"""

import os
import time
from pathlib import Path

import pytest

from tests.helpers import SEEDER_ADDRESS, SampleTorrent, status_once, until
from torrentfs.core.status_schema import MountStatus
from torrentfs.engine.settings import SETTLING_AFTER_JOIN_S
from torrentfs.status import read_status
from torrentfs_tools.loopback import Seeder

pytestmark = pytest.mark.mount

SLOW_SEEDER_BYTES_S = 100_000
WINDOW_ARGS = ("--readahead-min", "1M", "--readahead-max", "1M")
SETTLE_LIMIT_S = 30.0


def _pieces(sample: SampleTorrent, start: int, count: int) -> set[int]:
    first = start // sample.piece_length
    return set(range(first, first + count))


def _window_pieces(sample: SampleTorrent) -> int:
    return (1 << 20) // sample.piece_length


def test_a_seek_moves_the_window(single_file, seeder_for, mount):
    seeder = seeder_for(single_file, upload_rate_limit=SLOW_SEEDER_BYTES_S)
    mounted = mount(
        single_file.torrent_path, "--peer", "{}:{}".format(*seeder.endpoint), *WINDOW_ARGS
    )
    n = _window_pieces(single_file)
    original = single_file.root.read_bytes()
    seek_to = 10 << 20

    with (mounted.mountpoint / "movie.bin").open("rb") as handle:
        assert os.pread(handle.fileno(), 1000, 0) == original[:1000]
        first_window = _pieces(single_file, single_file.piece_length, n)
        assert set(read_status(mounted.mountpoint)["claimed_pieces"]) == first_window

        assert os.pread(handle.fileno(), 1000, seek_to) == original[seek_to : seek_to + 1000]
        status = read_status(mounted.mountpoint)

    second_window = _pieces(single_file, seek_to + single_file.piece_length, n)
    assert set(status["claimed_pieces"]) == second_window
    # The old window's missing pieces are no longer wanted by libtorrent.
    assert set(status["libtorrent_wanted_pieces"]) <= second_window
    assert not set(status["libtorrent_wanted_pieces"]) & first_window


def _asked_of_peers(status: MountStatus) -> set[int]:
    return {p for peer in status.get("peer_requests", []) for p in peer["requested_pieces"]}


def test_a_seek_withdraws_what_the_peer_was_asked_for_the_old_window(single_file, mount):
    """libtorrent never cancels a request it has sent: a seek's pieces would wait behind
    the old window at the peer. The peer (libtorrent's defaults, 500 ms tick) is sent a
    cancel for the old window's blocks, and libtorrent's download queue keeps no request
    for them."""
    seeder = Seeder(
        single_file.data,
        single_file.parent,
        SEEDER_ADDRESS,
        upload_rate_limit=4 * SLOW_SEEDER_BYTES_S,
        tick_interval_ms=None,
        log_peer_messages=True,
    )
    try:
        mounted = mount(
            single_file.torrent_path,
            "--peer",
            seeder.peer,
            "--readahead-min",
            "2M",
            "--readahead-max",
            "2M",
        )
        original = single_file.root.read_bytes()
        seek_to = 10 << 20
        with (mounted.mountpoint / "movie.bin").open("rb") as handle:
            assert os.pread(handle.fileno(), 1000, 0) == original[:1000]
            first_window = set(read_status(mounted.mountpoint)["claimed_pieces"])
            status = status_once(
                mounted.mountpoint, lambda s: bool(_asked_of_peers(s) & first_window), 30
            )
            assert _asked_of_peers(status) & first_window, "the window was never asked for"
            assert seeder.cancels_received() == set()
            # Requests are never withdrawn while a torrent's first connections are made.
            time.sleep(SETTLING_AFTER_JOIN_S)

            assert os.pread(handle.fileno(), 1000, seek_to) == original[seek_to : seek_to + 1000]
            assert until(lambda: bool(seeder.cancels_received() & first_window), SETTLE_LIMIT_S)
            status = status_once(
                mounted.mountpoint, lambda s: not _asked_of_peers(s) & first_window, 30
            )
            assert not _asked_of_peers(status) & first_window
            assert seeder.cancels_received() <= first_window | _pieces(single_file, 0, 1)
            after = seek_to + (1 << 20)
            assert os.pread(handle.fileno(), 1 << 20, after) == original[after : after + (1 << 20)]
    finally:
        seeder.close()


def test_closing_a_handle_drops_its_window_at_the_next_read(single_file, seeder_for, mount):
    """Left in flight until then, so that libtorrent never says "not interested" between
    a program closing a file and opening it again."""
    seeder = seeder_for(single_file, upload_rate_limit=SLOW_SEEDER_BYTES_S)
    mounted = mount(
        single_file.torrent_path, "--peer", "{}:{}".format(*seeder.endpoint), *WINDOW_ARGS
    )
    original = single_file.root.read_bytes()
    with (mounted.mountpoint / "movie.bin").open("rb") as handle:
        handle.read(1000)
        first_window = set(read_status(mounted.mountpoint)["claimed_pieces"])
        assert len(first_window) == _window_pieces(single_file)

    status = _wait_for(mounted.mountpoint, lambda s: not s["claimed_pieces"])
    assert status["claimed_pieces"] == []
    startup = _pieces(single_file, 0, _window_pieces(single_file))
    assert status["requested_pieces"]  # still in flight at 100 KB/s
    assert set(status["requested_pieces"]) <= first_window | startup

    seek_to = 10 << 20
    with (mounted.mountpoint / "movie.bin").open("rb") as handle:
        assert os.pread(handle.fileno(), 1000, seek_to) == original[seek_to : seek_to + 1000]
        status = read_status(mounted.mountpoint)
    assert not set(status["requested_pieces"]) & first_window
    assert not set(status["libtorrent_wanted_pieces"]) & first_window


def test_opening_a_video_fetches_its_head_and_tail_first(fifty_files, seeder_for, mount):
    seeder = seeder_for(fifty_files, upload_rate_limit=4 * SLOW_SEEDER_BYTES_S)
    small_ends = ("--head-size", "128K", "--tail-size", "128K", "--readahead-min", "64K")
    mounted = mount(fifty_files.torrent_path, "--peer", seeder.peer, *small_ends)
    video = fifty_files.files()["video-17.mkv"]
    # Wanted from the start: a minimum window (one piece here) of the largest file, video-17.
    startup = sorted(read_status(mounted.mountpoint)["claimed_pieces"])
    assert len(startup) == 1

    with (mounted.mountpoint / "video-17.mkv").open("rb"):
        # Nothing read yet: the head (within the start-up pieces) and the tail.
        claimed = set(read_status(mounted.mountpoint)["claimed_pieces"])
        last = startup[0] + -(-len(video) // fifty_files.piece_length) - 1
        assert claimed == {startup[0], startup[0] + 1, last - 1, last}
        _wait_for(mounted.mountpoint, lambda s: not s["requested_pieces"])
        # The seeder sent those pieces and nothing else.
        assert seeder.uploaded_bytes() == len(claimed) * fifty_files.piece_length


def _wait_for(mountpoint: Path, condition) -> MountStatus:
    return status_once(mountpoint, condition, SETTLE_LIMIT_S)
