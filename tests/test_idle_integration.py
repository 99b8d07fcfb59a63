"""The idle pause on real mounts: no reads stops the download, the next read resumes it."""

import os
import time
from pathlib import Path

import pytest

from tests.helpers import read_at, status_once
from torrentfs.core.status_schema import MountStatus
from torrentfs.status import read_status

pytestmark = pytest.mark.mount

# Slow enough that --download-all is far from done when the pause comes.
SEEDER_RATE = 1 << 20
# Blocks already on their way when the pause comes may still land: the
# seeder must fall quiet this long, within the limit.
QUIET_CHECK_S = 2.0
SETTLE_LIMIT_S = 15.0
# The read after the pause lands this far before the end of the file.
TAIL_BYTES = 3_000_000
RESUME_LIMIT_S = 60.0


def _wait_for_state(mountpoint: Path, state: str, limit_s: float = 15.0) -> MountStatus:
    status = status_once(mountpoint, lambda s: s["state"] == state, limit_s)
    assert status["state"] == state, f"still {status['state']}, not {state}"
    return status


def _read_past_the_page_cache(path: Path, size: int) -> bytes:
    """The first `size` bytes, asked of the mount even if the kernel holds them."""
    with path.open("rb", buffering=0) as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        return handle.read(size)


def _settled_while_idle(seeder) -> int:
    """The seeder's upload total once it stopped sending; fails if it never does."""
    settled = seeder.settled_upload(QUIET_CHECK_S, SETTLE_LIMIT_S)
    assert settled is not None, f"the seeder kept sending for {SETTLE_LIMIT_S} s while idle"
    return settled


def _mount_and_read_the_head(single_file, seeder_for, mount, *args):
    """A slow seeder, a mount with `args`, and one read of the file's first 64 KiB."""
    seeder = seeder_for(single_file, upload_rate_limit=SEEDER_RATE)
    original = single_file.root.read_bytes()
    mounted = mount(single_file.torrent_path, *args, "--peer", "{}:{}".format(*seeder.endpoint))
    path = mounted.mountpoint / "movie.bin"
    assert read_at(path, 0, 65536) == original[:65536]
    return seeder, mounted, path, original


def test_idle_stops_download_all_keeps_peers_and_a_read_resumes(
    single_file, seeder_for, mount, tmp_path
):
    seeder, mounted, path, original = _mount_and_read_the_head(
        single_file,
        seeder_for,
        mount,
        *("--storage", "disk", "--cache-dir", str(tmp_path / "cache"), "--download-all"),
        *("--idle-timeout", "2", "--idle-disconnect", "0"),
    )

    _wait_for_state(mounted.mountpoint, "idle")
    settled = _settled_while_idle(seeder)
    assert settled < len(original), "download-all finished before the pause: nothing was tested"
    assert read_status(mounted.mountpoint)["peers"] >= 1, "idle must keep the peers"

    offset = len(original) - TAIL_BYTES
    assert read_at(path, offset, 100_000) == original[offset : offset + 100_000]
    assert read_status(mounted.mountpoint)["state"] == "streaming"
    # --download-all goes on while reads come: more than the whole tail the
    # read could have asked for. Re-reading the head (held) keeps the mount
    # streaming without asking the swarm for anything new.
    deadline = time.monotonic() + RESUME_LIMIT_S
    while seeder.uploaded_bytes() <= settled + TAIL_BYTES + 1_000_000:
        assert time.monotonic() < deadline, "download-all did not resume"
        assert _read_past_the_page_cache(path, 4096) == original[:4096]
        time.sleep(0.2)
    assert "idle: no reads for" in mounted.log_text()
    assert mounted.unmount() == 0


def test_full_pause_drops_every_connection_and_a_read_reconnects(single_file, seeder_for, mount):
    seeder, mounted, path, original = _mount_and_read_the_head(
        single_file, seeder_for, mount, "--idle-timeout", "1", "--idle-disconnect", "2"
    )

    status = _wait_for_state(mounted.mountpoint, "disconnected")
    assert status["peers"] == 0
    _settled_while_idle(seeder)

    offset = len(original) // 2
    assert read_at(path, offset, 200_000) == original[offset : offset + 200_000]
    assert read_status(mounted.mountpoint)["state"] == "streaming"
    assert "resumed: a read after" in mounted.log_text()
    assert mounted.unmount() == 0


def test_the_pause_comes_back_after_every_resume(single_file, seeder_for, mount):
    """Three play/pause cycles in one mount: each pause goes idle, each read resumes.

    A read while idle used to leave the watch asleep until the old disconnect
    time, so only the first pause ever came.
    """
    _seeder, mounted, path, original = _mount_and_read_the_head(
        single_file, seeder_for, mount, "--idle-timeout", "1", "--idle-disconnect", "300"
    )
    for cycle in range(3):
        _wait_for_state(mounted.mountpoint, "idle")
        assert _read_past_the_page_cache(path, 65536) == original[:65536], cycle
    _wait_for_state(mounted.mountpoint, "idle")
    log = mounted.log_text()
    assert log.count("idle: no reads for") == 4, log
    assert log.count("resumed: a read after") == 3, log
    assert mounted.unmount() == 0
