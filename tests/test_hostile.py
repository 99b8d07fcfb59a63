"""Hostile and odd torrents, hand-made in bencode: names that try to escape, 100 000 files,
a 1 TiB file of which a few pieces are read, and pieces of 16 KiB and 16 MiB."""

import hashlib
import os
import time
from pathlib import Path

import libtorrent as lt
import pytest

from torrentfs.status import read_status
from torrentfs_tools.bench.measure import private_memory_bytes
from torrentfs_tools.loopback import Seeder

pytestmark = pytest.mark.mount

KIB = 1 << 10
MIB = 1 << 20
TIB = 1 << 40


def _torrent(name: str, piece_length: int, files: list[tuple[list[str], int]] | int) -> bytes:
    """A v1 .torrent of all-zero content: `files` is [(path parts, size)], or one file's size."""
    total = files if isinstance(files, int) else sum(size for _, size in files)
    count = -(-total // piece_length)
    full = hashlib.sha1(bytes(piece_length)).digest()
    last = hashlib.sha1(bytes(total - (count - 1) * piece_length)).digest()
    info: dict[bytes, object] = {
        b"name": name.encode(),
        b"piece length": piece_length,
        b"pieces": full * (count - 1) + last,
    }
    if isinstance(files, int):
        info[b"length"] = files
    else:
        info[b"files"] = [
            {b"path": [part.encode() for part in parts], b"length": size} for parts, size in files
        ]
    data: bytes = lt.bencode({b"info": info})  # type: ignore[arg-type]
    return data


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "hostile.torrent"
    path.write_bytes(data)
    return path


def test_names_that_try_to_escape_stay_inside_the_mount(mount, tmp_path):
    files = [
        (["..", "..", "etc", "passwd"], 10),
        (["/", "abs"], 10),
        (["", "empty-part"], 10),
        (["a/b", "slash"], 10),
        (["nul\x00byte"], 10),
        (["x" * 400], 10),
        (["same"], 10),
        (["same"], 10),
        ([".", "dot"], 10),
    ]
    mounted = mount(_write(tmp_path, _torrent("Hostile", 16 * KIB, files)))
    root = os.path.realpath(mounted.mountpoint)
    seen = []
    for folder, dirs, names in os.walk(mounted.mountpoint):
        for name in [*dirs, *names]:
            assert len(os.fsencode(name)) <= 255 and "/" not in name and name not in (".", "..")
            path = os.path.join(folder, name)
            assert os.path.realpath(path).startswith(root + os.sep)
            if name in names:
                seen.append(path)
    assert len(seen) == len(files)
    assert not (tmp_path / "etc").exists()
    assert mounted.unmount() == 0


def test_a_hundred_thousand_files_list_completely(mount, tmp_path):
    count = 100_000
    files = [([f"dir{i // 1000:03}", f"file{i:06}.txt"], 1) for i in range(count)]
    mounted = mount(_write(tmp_path, _torrent("Many", 16 * KIB, files)))
    start = time.monotonic()
    listed = sum(len(names) for _, _, names in os.walk(mounted.mountpoint))
    seconds = time.monotonic() - start
    print(f"ls -R of {count} files: {seconds:.2f} s")
    assert listed == count
    assert mounted.unmount() == 0


@pytest.mark.parametrize(
    ("piece_length", "size"),
    [(16 * KIB, 3 * MIB + 5), (16 * MIB, TIB)],
    ids=["16KiB", "16MiB-1TiB"],
)
def test_tiny_and_huge_pieces_read_right_and_memory_follows_what_is_read(
    piece_length, size, mount, tmp_path
):
    content = tmp_path / "content"
    content.mkdir()
    with (content / "zeros.bin").open("wb") as sparse:
        sparse.truncate(size)
    data = _torrent("zeros.bin", piece_length, size)
    with Seeder(data, content, "127.0.0.2") as seeder:
        mounted = mount(
            _write(tmp_path, data),
            "--cache-size",
            "64M",
            "--peer",
            "{}:{}".format(*seeder.endpoint),
        )
        path = mounted.mountpoint / "zeros.bin"
        assert path.stat().st_size == size
        offsets = [0, size // 2 + 12345, size - 100_000]
        with path.open("rb", buffering=0) as handle:
            for offset in offsets:
                handle.seek(offset)
                assert handle.read(100_000) == bytes(min(100_000, size - offset))
        status = read_status(mounted.mountpoint)
        private = private_memory_bytes(mounted.process.pid)
        print(f"{size} bytes in {piece_length}-byte pieces: {private / MIB:.0f} MiB private")
        # What was read and its windows, not the torrent's size.
        assert status["store"]["bytes"] <= status["store"]["budget_bytes"]
        assert private < 400 * MIB
        assert mounted.unmount() == 0
