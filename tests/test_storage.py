import os
from pathlib import Path

import pytest

from torrentfs.cli import build_parser, settings_from_args
from torrentfs.config import StorageMode
from torrentfs.errors import UserError
from torrentfs.storage import Storage, filesystem_type, punch_hole

MOUNTINFO = """\
22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:21 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
26 22 0:22 / /run/user/1000 rw,nosuid shared:4 - tmpfs tmpfs rw,size=100k
27 22 0:23 / /data/my\\040disk rw shared:5 - xfs /dev/vdb rw
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dev/shm/torrentfs-0/12", "tmpfs"),
        ("/dev/shm", "tmpfs"),
        ("/dev/shmx", "ext4"),
        ("/run/user/1000/x", "tmpfs"),
        ("/data/my disk/a", "xfs"),
        ("/home/me", "ext4"),
    ],
)
def test_filesystem_type_is_that_of_the_deepest_mount(path, expected):
    assert filesystem_type(Path(path), MOUNTINFO) == expected


def _settings(*args):
    return settings_from_args(build_parser().parse_args(["mount", "magnet:?xt=x", "/m", *args]))


def test_storage_mode_flag_wins_over_the_environment(monkeypatch):
    monkeypatch.delenv("TORRENT_STORAGE_MODE", raising=False)
    assert _settings().storage.mode is StorageMode.MEMORY
    monkeypatch.setenv("TORRENT_STORAGE_MODE", "disk")
    assert _settings().storage.mode is StorageMode.DISK
    assert _settings("--storage", "memory").storage.mode is StorageMode.MEMORY
    monkeypatch.setenv("TORRENT_STORAGE_MODE", "Memory ")
    assert _settings().storage.mode is StorageMode.MEMORY
    monkeypatch.setenv("TORRENT_STORAGE_MODE", "cloud")
    with pytest.raises(UserError, match="TORRENT_STORAGE_MODE='cloud' is not a storage mode"):
        _settings()


def test_disk_storage_keeps_resume_data_per_info_hash(tmp_path):
    storage = Storage(StorageMode.DISK, tmp_path)
    folder = storage.prepare("ab" * 20)
    assert folder == tmp_path / ("ab" * 20)
    assert storage.load_resume_data() is None
    storage.save_resume_data(b"d4:infoe")
    storage.close()
    again = Storage(StorageMode.DISK, tmp_path)
    again.prepare("ab" * 20)
    assert again.load_resume_data() == b"d4:infoe"


def test_memory_storage_lives_in_ram_and_goes_away(tmp_path):
    storage = Storage(StorageMode.MEMORY)
    folder = storage.prepare("cd" * 20)
    assert filesystem_type(folder, Path("/proc/self/mountinfo").read_text()) == "tmpfs"
    assert folder.name == str(os.getpid())
    storage.save_resume_data(b"ignored")
    assert storage.load_resume_data() is None
    storage.close()
    assert not folder.exists()


def test_stale_memory_folders_of_dead_processes_are_removed():
    first = Storage(StorageMode.MEMORY)
    root = first.prepare("ef" * 20).parent
    stale = root / "999999999"  # no such process
    stale.mkdir()
    (stale / "piece").write_bytes(b"x" * 4096)
    second = Storage(StorageMode.MEMORY)
    second.prepare("ef" * 20)
    assert not stale.exists()
    first.close()
    second.close()


def test_punch_hole_frees_blocks_and_keeps_the_size(tmp_path):
    storage = Storage(StorageMode.MEMORY)
    folder = storage.prepare("12" * 20)
    path = folder / "data"
    path.write_bytes(b"\xff" * (1 << 20))
    punch_hole(path, 4096, 512 << 10)
    data = path.read_bytes()
    assert len(data) == 1 << 20
    assert data[4096 : 4096 + (512 << 10)] == bytes(512 << 10)
    assert data[:4096] == b"\xff" * 4096 and data[-1:] == b"\xff"
    assert path.stat().st_blocks * 512 <= (1 << 20) - (512 << 10)
    storage.close()
