"""Shared fixtures: generated content, loopback seeders and real torrentfs mounts.

Every seeder listens on a 127.0.0.x address with DHT, LSD, UPnP and NAT-PMP
off; every mount is a real `torrentfs mount` child process that is unmounted
and reaped at teardown even when the test fails.
"""

import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.helpers import SEEDER_ADDRESS, SampleTorrent
from torrentfs_tools.loopback import MountProcess, Seeder, make_torrent

SMALL_PIECE = 64 << 10
# Of a mount's log, shown under a failed test.
MOUNT_LOG_LINES = 40


def _random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _sample(folder: Path, root: Path, piece_length: int, hybrid: bool = False) -> SampleTorrent:
    data = make_torrent(root, piece_length, hybrid=hybrid)
    torrent_path = folder / f"{root.name}.torrent"
    torrent_path.write_bytes(data)
    return SampleTorrent(root, data, torrent_path, piece_length)


@pytest.fixture(scope="session")
def single_file(tmp_path_factory: pytest.TempPathFactory) -> SampleTorrent:
    """One 20 MiB file whose size is not a multiple of its 64 KiB pieces."""
    folder = tmp_path_factory.mktemp("single")
    path = folder / "movie.bin"
    path.write_bytes(_random_bytes(1, (20 << 20) + 12345))
    return _sample(folder, path, SMALL_PIECE)


@pytest.fixture(scope="session")
def multi_file(tmp_path_factory: pytest.TempPathFactory) -> SampleTorrent:
    """Nested folders, unicode names, empty files, sizes that straddle 32 KiB pieces (v1)."""
    folder = tmp_path_factory.mktemp("multi")
    root = folder / "Album"
    layout = {
        "cover.jpg": 70_001,
        "empty.txt": 0,
        "CD1/01 - Überture.flac": 1_000_003,
        "CD1/02 - 夜.flac": 32 << 10,
        "CD1/extras/notes.txt": 517,
        "CD2/01 - Ça va.flac": 333_333,
        "CD2/deeper/still/empty.nfo": 0,
        "CD2/deeper/still/last.bin": 99_999,
    }
    for index, (relative, size) in enumerate(layout.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_random_bytes(100 + index, size))
    return _sample(folder, root, 32 << 10)


@pytest.fixture(scope="session")
def fifty_files(tmp_path_factory: pytest.TempPathFactory) -> SampleTorrent:
    """A hybrid (v1+v2, padded) torrent of 50 files; "video-17.mkv" is the largest."""
    folder = tmp_path_factory.mktemp("fifty")
    root = folder / "Season"
    for index in range(50):
        size = (3 << 20) if index == 17 else (1 << 20) + index * 4099
        (root / f"video-{index:02}.mkv").parent.mkdir(parents=True, exist_ok=True)
        (root / f"video-{index:02}.mkv").write_bytes(_random_bytes(1000 + index, size))
    return _sample(folder, root, SMALL_PIECE, hybrid=True)


@pytest.fixture
def seeder_for() -> Iterator[Callable[[SampleTorrent], Seeder]]:
    """Start a seeder of a sample on 127.0.0.2, optionally rate-limited (stopped at teardown)."""
    seeders: list[Seeder] = []

    def start(sample: SampleTorrent, upload_rate_limit: int = 0) -> Seeder:
        seeder = Seeder(
            sample.data, sample.parent, address=SEEDER_ADDRESS, upload_rate_limit=upload_rate_limit
        )
        seeders.append(seeder)
        return seeder

    yield start
    for seeder in seeders:
        seeder.close()


@pytest.fixture
def mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MountProcess]]:
    """Run `torrentfs mount SOURCE <tmp>/mnt ARGS…` and wait until it is mounted.

    The default cache folder is the test's own: a magnet's metadata kept by one
    test must not make another's magnet known from the start.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    mounts: list[MountProcess] = []

    def start(
        source: str | Path, *args: str, wait: bool = True, prefix: Sequence[str] = ()
    ) -> MountProcess:
        mountpoint = tmp_path / f"mnt{len(mounts)}"
        mountpoint.mkdir()
        process = MountProcess(str(source), mountpoint, args, prefix=prefix)
        mounts.append(process)
        if wait:
            process.wait_mounted()
        return process

    yield start
    for process in mounts:
        process.close()
        # Shown only when the test failed: what the mount said up to then.
        print(f"--- {process.mountpoint.name}: the last lines torrentfs logged ---")
        print("\n".join(process.log_text().splitlines()[-MOUNT_LOG_LINES:]))
        assert not os.path.ismount(process.mountpoint)
