"""Real mounts on a real loopback swarm: bytes read through FUSE compared with the originals."""

import errno
import hashlib
import os
import random
import signal
import stat
import subprocess
import sys
from pathlib import Path

import libtorrent as lt
import pytest

from tests.helpers import sha256_of
from torrentfs.engine.storage import memory_root
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import LOOPBACK_MOUNT_FLAGS, info_hash_of, magnet_for

pytestmark = pytest.mark.mount

READ_ONE_MIB = 1 << 20


def _read_at(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        return os.pread(handle.fileno(), length, offset)


def test_magnet_single_file_reads_exact_bytes(single_file, seeder_for, mount):
    seeder = seeder_for(single_file)
    # A small cache forces evictions, so later reads re-fetch forgotten pieces.
    mounted = mount(
        magnet_for(single_file.data, [seeder.endpoint]),
        "--cache-size",
        "16M",
        "--readahead-min",
        "256K",
        "--readahead-max",
        "256K",
    )
    path = mounted.mountpoint / "movie.bin"
    original = single_file.root.read_bytes()

    assert os.listdir(mounted.mountpoint) == ["movie.bin"]
    assert path.stat().st_size == len(original)
    assert sha256_of(path) == hashlib.sha256(original).hexdigest()

    rng = random.Random(7)
    piece = single_file.piece_length
    reads = [
        (rng.randrange(len(original)), rng.choice([1, 100, 4096, piece, 3 * piece + 5]))
        for _ in range(170)
    ]
    # Reads that straddle piece boundaries and the end of the file.
    reads += [(k * piece - 3, 7) for k in range(1, 26)]
    reads += [
        (len(original) - 1, 1),
        (len(original) - 10, 100),
        (len(original), 10),
        (0, 1),
        (piece - 1, 2),
    ]
    assert len(reads) == 200
    for offset, length in reads:
        assert _read_at(path, offset, length) == original[offset : offset + length], (
            offset,
            length,
        )


def test_torrent_file_multi_file_tree(multi_file, seeder_for, mount):
    seeder = seeder_for(multi_file)
    mounted = mount(multi_file.torrent_path, "--peer", "{}:{}".format(*seeder.endpoint))
    expected = multi_file.files()

    shown = {
        str(path.relative_to(mounted.mountpoint))
        for path in mounted.mountpoint.rglob("*")
        if path.is_file()
    }
    assert shown == set(expected)
    assert sorted(os.listdir(mounted.mountpoint)) == ["CD1", "CD2", "cover.jpg", "empty.txt"]
    for relative, data in expected.items():
        path = mounted.mountpoint / relative
        assert path.stat().st_size == len(data), relative
        assert path.read_bytes() == data, relative
        if data:
            assert _read_at(path, len(data) - 1, 1) == data[-1:], relative

    # Reads straddling the 32 KiB piece boundaries inside one file.
    flac = mounted.mountpoint / "CD1/01 - Überture.flac"
    data = expected["CD1/01 - Überture.flac"]
    for offset in range(0, len(data), 20_000):
        assert _read_at(flac, offset, 40_000) == data[offset : offset + 40_000]


def test_info_hash_source_with_peer_flag(single_file, seeder_for, mount):
    seeder = seeder_for(single_file)
    mounted = mount(info_hash_of(single_file.data), "--peer", "{}:{}".format(*seeder.endpoint))
    original = single_file.root.read_bytes()
    assert (
        _read_at(mounted.mountpoint / "movie.bin", 5_000_000, 300_000)
        == original[5_000_000:5_300_000]
    )


def test_reading_one_file_fetches_only_what_is_read(fifty_files, seeder_for, mount):
    seeder = seeder_for(fifty_files)
    readahead, tail = 1 << 20, 128 << 10
    mounted = mount(
        magnet_for(fifty_files.data, [seeder.endpoint]),
        *("--readahead-min", str(readahead), "--readahead-max", str(readahead)),
        *("--tail-size", str(tail)),
    )
    path = mounted.mountpoint / "video-17.mkv"
    expected = fifty_files.files()["video-17.mkv"]

    with path.open("rb") as handle:
        # No kernel read-ahead: count only what this test reads.
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        data = b"".join(
            os.pread(handle.fileno(), 128 << 10, off) for off in range(0, READ_ONE_MIB, 128 << 10)
        )
    assert data == expected[:READ_ONE_MIB]

    uploaded = seeder.settled_upload(quiet_s=1.5, limit_s=20.0)
    assert uploaded is not None, "the seeder never stopped sending"
    # What was read, the window after it, the tail fetched on opening a video, 2 pieces of slack.
    limit = READ_ONE_MIB + readahead + tail + 2 * fifty_files.piece_length
    total = sum(len(data) for data in fifty_files.files().values())
    assert READ_ONE_MIB <= uploaded < limit, f"seeder sent {uploaded} of {total} bytes"


def test_read_only_and_attributes(multi_file, seeder_for, mount):
    seeder = seeder_for(multi_file)
    mounted = mount(multi_file.torrent_path, "--peer", "{}:{}".format(*seeder.endpoint))
    root = mounted.mountpoint
    cover = root / "cover.jpg"

    info = cover.stat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o444
    assert stat.S_ISDIR((root / "CD1").stat().st_mode)
    assert info.st_mtime == lt.torrent_info(multi_file.data).creation_date()
    assert info.st_uid == os.getuid()

    refused = [
        lambda: cover.open("r+b"),
        lambda: (root / "new.txt").write_bytes(b"x"),
        lambda: (root / "newdir").mkdir(),
        lambda: cover.rename(root / "renamed.jpg"),
        lambda: cover.unlink(),
        lambda: cover.chmod(0o644),
        lambda: os.truncate(cover, 0),
    ]
    for attempt in refused:
        with pytest.raises(OSError) as raised:
            attempt()
        assert raised.value.errno in (errno.EROFS, errno.EACCES), raised.value

    usage = os.statvfs(root)
    assert usage.f_blocks * usage.f_frsize >= sum(len(d) for d in multi_file.files().values())
    assert usage.f_namemax == 255


def test_inode_numbers_are_stable_across_mounts(multi_file, seeder_for, mount):
    seeder = seeder_for(multi_file)
    source = magnet_for(multi_file.data, [seeder.endpoint])

    def inodes(mountpoint: Path) -> dict[str, int]:
        return {str(p.relative_to(mountpoint)): p.stat().st_ino for p in mountpoint.rglob("*")}

    first = mount(source)
    before = inodes(first.mountpoint)
    assert first.unmount() == 0
    second = mount(source)
    assert inodes(second.mountpoint) == before
    assert len(set(before.values())) == len(before)


@pytest.mark.parametrize("how", ["fusermount", "SIGINT", "SIGTERM"])
def test_every_way_of_stopping_unmounts_cleanly(how, single_file, seeder_for, mount):
    seeder = seeder_for(single_file)
    mounted = mount(magnet_for(single_file.data, [seeder.endpoint]))
    assert _read_at(mounted.mountpoint / "movie.bin", 0, 10) == single_file.root.read_bytes()[:10]
    workdirs_before = _workdirs()
    assert workdirs_before, "torrentfs keeps its working files in a RAM folder"

    if how == "fusermount":
        code = mounted.unmount()
    else:
        mounted.process.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
        code = mounted.wait_exit()

    assert code == 0, mounted.log_text()
    assert not os.path.ismount(mounted.mountpoint)
    assert os.listdir(mounted.mountpoint) == []
    assert not _workdirs() & {str(mounted.process.pid)}


def test_signal_ends_a_read_blocked_on_a_missing_peer(single_file, mount):
    mounted = mount(single_file.torrent_path)  # nobody seeds this one
    reader = subprocess.Popen(
        [sys.executable, "-c", f"open({str(mounted.mountpoint / 'movie.bin')!r}, 'rb').read(10)"]
    )
    with pytest.raises(subprocess.TimeoutExpired):
        reader.wait(timeout=1.5)
    mounted.process.send_signal(signal.SIGTERM)
    assert mounted.wait_exit() == 0, mounted.log_text()
    assert reader.wait(timeout=10) != 0
    assert not os.path.ismount(mounted.mountpoint)


def test_metadata_timeout_is_eio_with_a_clear_log(single_file, mount):
    # A peer that is not there: the metadata never comes.
    lonely = magnet_for(single_file.data, [("127.0.0.9", free_port("127.0.0.9"))])
    mounted = mount(lonely, "--metadata-timeout", "1s")
    with pytest.raises(OSError) as raised:
        os.listdir(mounted.mountpoint)
    assert raised.value.errno == errno.EIO
    assert mounted.unmount() == 0
    assert "no metadata after 1 s" in mounted.log_text()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("magnet:?dn=nothing", "no xt=urn:btih"),
        ("magnet:?xt=urn:btih:nothex", "invalid magnet xt"),
        ("/nonexistent/file.torrent", "no such file"),
        ("0123456789abcdef", "no such file"),
        ("{garbage}", "not a valid .torrent file"),
    ],
)
def test_bad_sources_fail_with_one_line(source, message, tmp_path):
    garbage = tmp_path / "bad.torrent"
    garbage.write_bytes(b"d8:announce3:foo4:infod")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torrentfs",
            "mount",
            source.format(garbage=garbage),
            str(mountpoint),
            *LOOPBACK_MOUNT_FLAGS,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not os.path.ismount(mountpoint)


def _workdirs() -> set[str]:
    base = memory_root()
    return set(os.listdir(base)) if base.is_dir() else set()
