import os

import pytest

from torrentfs.arguments import build_parser
from torrentfs.cli import settings_from_args
from torrentfs.core import mountinfo
from torrentfs.core.config import StorageMode
from torrentfs.core.errors import UserError
from torrentfs.engine.storage import Storage, punch_hole


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
    assert mountinfo.filesystem_type(os.path.realpath(folder), mountinfo.read()) == "tmpfs"
    # One folder per torrent, in one folder per running mount.
    assert (folder.parent.name, folder.name) == (str(os.getpid()), "cd" * 20)
    storage.save_resume_data(b"ignored")
    assert storage.load_resume_data() is None
    storage.close()
    assert not folder.exists()
    assert not folder.parent.exists()  # the mount's folder goes with its last torrent


def test_stale_memory_folders_of_dead_processes_are_removed():
    first = Storage(StorageMode.MEMORY)
    root = first.prepare("ef" * 20).parent.parent
    first.close()
    stale = root / "999999999"  # no such process
    stale.mkdir()
    (stale / "piece").write_bytes(b"x" * 4096)
    # When this process's folder is made: once, at the first torrent.
    second = Storage(StorageMode.MEMORY)
    second.prepare("ef" * 20)
    assert not stale.exists()
    second.close()


def test_punch_hole_frees_blocks_and_keeps_the_size(tmp_path):
    storage = Storage(StorageMode.MEMORY)
    folder = storage.prepare("12" * 20)
    folder.mkdir()  # as libtorrent does with its first piece
    path = folder / "data"
    path.write_bytes(b"\xff" * (1 << 20))
    punch_hole(path, 4096, 512 << 10)
    data = path.read_bytes()
    assert len(data) == 1 << 20
    assert data[4096 : 4096 + (512 << 10)] == bytes(512 << 10)
    assert data[:4096] == b"\xff" * 4096 and data[-1:] == b"\xff"
    assert path.stat().st_blocks * 512 <= (1 << 20) - (512 << 10)
    storage.close()
