"""Storage modes on real mounts: memory writes nothing to disk, disk mode resumes."""

import hashlib
import tempfile
import time
from pathlib import Path

import pytest

from torrentfs.loopback import MountProcess

pytestmark = pytest.mark.mount


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _written_to_storage(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise AssertionError("no write_bytes")


def test_memory_mode_writes_nothing_to_disk(single_file, seeder_for, tmp_path):
    seeder = seeder_for(single_file)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    with tempfile.TemporaryDirectory(dir="/dev/shm") as ram:
        # The log goes to RAM too, so that any write counted is torrentfs's own.
        log = Path(ram) / "torrentfs.log"
        peer = "{}:{}".format(*seeder.endpoint)
        with MountProcess(str(single_file.torrent_path), mountpoint, ("--peer", peer), log) as m:
            m.wait_mounted()
            before = _written_to_storage(m.process.pid)
            assert _sha256(mountpoint / "movie.bin") == _sha256(single_file.root)
            assert _written_to_storage(m.process.pid) - before == 0
            assert m.unmount() == 0


def test_disk_mode_remount_reads_without_downloading_again(
    single_file, seeder_for, mount, tmp_path
):
    seeder = seeder_for(single_file)
    cache = tmp_path / "cache"
    args = (
        "--storage",
        "disk",
        "--cache-dir",
        str(cache),
        "--peer",
        "{}:{}".format(*seeder.endpoint),
    )
    expected = _sha256(single_file.root)

    first = mount(single_file.torrent_path, *args)
    assert _sha256(first.mountpoint / "movie.bin") == expected
    assert first.unmount() == 0, first.log_text()
    uploaded = seeder.uploaded_bytes()
    assert uploaded >= single_file.root.stat().st_size
    assert any(cache.rglob("resume.fastresume"))

    second = mount(single_file.torrent_path, *args)
    assert _sha256(second.mountpoint / "movie.bin") == expected
    assert seeder.uploaded_bytes() == uploaded, "the remount downloaded again"
    assert "resuming:" in second.log_text()
    assert second.unmount() == 0


def test_download_all_fetches_what_nobody_read(multi_file, seeder_for, mount, tmp_path):
    seeder = seeder_for(multi_file)
    cache = tmp_path / "cache"
    mounted = mount(
        multi_file.torrent_path,
        *("--storage", "disk", "--cache-dir", str(cache), "--download-all"),
        *("--peer", "{}:{}".format(*seeder.endpoint)),
    )
    total = sum(len(data) for data in multi_file.files().values())
    everything_sent = _wait(lambda: seeder.uploaded_bytes() >= total)
    assert everything_sent, f"seeder sent {seeder.uploaded_bytes()} of {total} bytes"
    assert mounted.unmount() == 0


def _wait(condition, limit_s: float = 30.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
