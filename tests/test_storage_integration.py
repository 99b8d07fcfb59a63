"""Storage modes on real mounts: memory writes nothing to disk, disk mode resumes."""

import hashlib
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import libtorrent as lt
import pytest

from tests.helpers import SampleTorrent, sha256_of
from torrentfs.core.config import DEFAULT_READAHEAD_MAX_BYTES
from torrentfs.engine.storage import memory_root
from torrentfs.status import read_status
from torrentfs_tools.loopback import MountProcess, make_torrent

pytestmark = pytest.mark.mount


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
            assert sha256_of(mountpoint / "movie.bin") == sha256_of(single_file.root)
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
    expected = sha256_of(single_file.root)

    first = mount(single_file.torrent_path, *args)
    assert sha256_of(first.mountpoint / "movie.bin") == expected
    assert first.unmount() == 0, first.log_text()
    uploaded = seeder.uploaded_bytes()
    assert uploaded >= single_file.root.stat().st_size
    assert any(cache.rglob("resume.fastresume"))

    second = mount(single_file.torrent_path, *args)
    assert sha256_of(second.mountpoint / "movie.bin") == expected
    assert seeder.uploaded_bytes() == uploaded, "the remount downloaded again"
    assert "resuming:" in second.log_text()
    assert second.unmount() == 0


def test_disk_limit_keeps_the_cache_folder_small(single_file, seeder_for, mount, tmp_path):
    seeder = seeder_for(single_file)
    cache = tmp_path / "cache"
    limit = 4 * MIB
    mounted = mount(
        single_file.torrent_path,
        *("--storage", "disk", "--cache-dir", str(cache), "--disk-limit", "4M"),
        *("--peer", "{}:{}".format(*seeder.endpoint)),
    )
    assert sha256_of(mounted.mountpoint / "movie.bin") == sha256_of(single_file.root)
    assert mounted.unmount() == 0
    data = [p for p in cache.rglob("*") if p.is_file() and p.name != "resume.fastresume"]
    used = sum(p.stat().st_blocks * 512 for p in data)
    # The limit, plus the pieces that arrived while a batch was being forgotten.
    assert used <= limit + 2 * MIB, used
    assert "forgot" in mounted.log_text()


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


GIB = 1 << 30
MIB = 1 << 20
BUDGET = 128 * MIB
# RAM store plus working files within the budget, 15% slack, and room for
# Python and libtorrent themselves.
PEAK_LIMIT = BUDGET * 1.15 + 96 * MIB


def _random_torrent(folder: Path, name: str, size: int, piece_length: int) -> SampleTorrent:
    """`size` random bytes (16 MiB at a time) as a one-file torrent."""
    path = folder / f"{name}.bin"
    rng = random.Random(size)
    with path.open("wb") as out:
        for _ in range(size // (16 * MIB)):
            out.write(rng.randbytes(16 * MIB))
    data = make_torrent(path, piece_length)
    torrent_path = folder / f"{name}.torrent"
    torrent_path.write_bytes(data)
    return SampleTorrent(path, data, torrent_path, piece_length)


@pytest.fixture(scope="module")
def one_gib(tmp_path_factory) -> SampleTorrent:
    return _random_torrent(tmp_path_factory.mktemp("gib"), "big", GIB, MIB)


class _MemorySampler:
    """Samples a process's private memory plus its working folder every 100 ms."""

    def __init__(self, pid: int, folder: Path) -> None:
        self.peak = 0
        self._pid, self._folder = pid, folder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                status = Path(f"/proc/{self._pid}/status").read_text()
                rss_anon = int(status.split("RssAnon:")[1].split()[0]) * 1024
                files = sum(
                    p.stat().st_blocks * 512 for p in self._folder.rglob("*") if p.is_file()
                )
            except (OSError, IndexError):
                continue
            self.peak = max(self.peak, rss_anon + files)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def test_memory_mode_reads_1gib_within_a_128m_budget_and_never_uploads_forgotten_pieces(
    one_gib, seeder_for, mount
):
    seeder = seeder_for(one_gib)
    mounted = mount(
        one_gib.torrent_path, "--cache-size", "128M", "--peer", "{}:{}".format(*seeder.endpoint)
    )
    path = mounted.mountpoint / "big.bin"
    sampler = _MemorySampler(mounted.process.pid, memory_root() / str(mounted.process.pid))
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    peak = sampler.stop()
    expected = hashlib.sha256(one_gib.root.read_bytes()).hexdigest()
    assert digest.hexdigest() == expected
    print(
        f"peak private memory + working files: {peak / MIB:.1f} MiB (limit {PEAK_LIMIT / MIB:.0f})"
    )
    assert peak <= PEAK_LIMIT
    assert "forgot" in mounted.log_text()

    # Pieces from the start were forgotten: they come back, right.
    original = one_gib.root.open("rb")
    rng = random.Random(20)
    with path.open("rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        for _ in range(20):
            offset, length = rng.randrange(0, 64 * MIB), rng.randrange(1, 3 * MIB)
            original.seek(offset)
            assert os.pread(handle.fileno(), length, offset) == original.read(length)

    # A second leecher that only knows torrentfs gets only pieces that pass their hash.
    status = read_status(mounted.mountpoint)
    received, failed = _leech_from(one_gib, ("127.0.0.1", status["listen_port"]))
    assert received > 0
    assert failed == 0


BIG_CACHE = GIB
# Bigger than the cache, so the working files must forget while the store stays full.
BIGGER_THAN_CACHE = GIB + 256 * MIB


@pytest.fixture(scope="module")
def bigger_than_cache(tmp_path_factory) -> SampleTorrent:
    folder = tmp_path_factory.mktemp("bigger")
    return _random_torrent(folder, "bigger", BIGGER_THAN_CACHE, 4 * MIB)


def test_with_a_1g_cache_the_store_and_working_files_never_hold_more_than_it(
    bigger_than_cache, seeder_for, mount
):
    seeder = seeder_for(bigger_than_cache)
    mounted = mount(
        bigger_than_cache.torrent_path, "--cache-size", "1G",
        "--peer", "{}:{}".format(*seeder.endpoint),
    )  # fmt: skip
    working_folder = memory_root() / str(mounted.process.pid)
    samples: list[tuple[int, int]] = []
    statuses: list[tuple[int, int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            status = read_status(mounted.mountpoint)
            if "store" not in status:
                continue
            on_tmpfs = sum(
                p.stat().st_blocks * 512 for p in working_folder.rglob("*") if p.is_file()
            )
            samples.append((status["store"]["bytes"], on_tmpfs))
            statuses.append(
                (status["memory_bytes"], status["held_bytes"], status["held_twice_bytes"])
            )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    digest = hashlib.sha256()
    with (mounted.mountpoint / "bigger.bin").open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    stop.set()
    sampler.join()
    assert digest.hexdigest() == hashlib.sha256(bigger_than_cache.root.read_bytes()).hexdigest()
    assert len(samples) > 10
    most = max(store + files for store, files in samples)
    print(f"most in store + working files: {most / MIB:.0f} MiB, cache {BIG_CACHE / MIB:.0f} MiB")
    assert most <= BIG_CACHE
    assert max(memory for memory, _, _ in statuses) <= BIG_CACHE
    # Each piece once, but for what the store keeps at hand (two read-ahead windows):
    # the cache holds far more of the file than half of it.
    assert max(twice for _, _, twice in statuses) <= 2 * DEFAULT_READAHEAD_MAX_BYTES
    assert max(held for _, held, _ in statuses) >= 0.75 * BIG_CACHE
    assert "forgot" in mounted.log_text()


def _leech_from(sample: SampleTorrent, peer: tuple[str, int], limit_s: float = 20.0):
    settings: lt.settings_pack = {
        "listen_interfaces": "127.0.0.3:0",
        "outgoing_interfaces": "127.0.0.3",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert_category.status
        | lt.alert_category.error
        | lt.alert_category.piece_progress,
    }
    session = lt.session(settings)
    with tempfile.TemporaryDirectory(dir="/dev/shm") as save:
        params = lt.load_torrent_buffer(sample.data)
        params.save_path = save
        params.peers = [peer]
        handle = session.add_torrent(params)
        received = failed = 0
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and received < 16:
            session.wait_for_alert(200)
            for alert in session.pop_alerts():
                received += isinstance(alert, lt.piece_finished_alert)
                failed += isinstance(alert, lt.hash_failed_alert)
        session.remove_torrent(handle)
    return received, failed
