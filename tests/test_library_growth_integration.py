"""Library mounts as people grow them: magnets that fetch their metadata and nothing else,
in turn; subfolders; a status that works and tells the truth at any size; lookups that
stay linear.

Real mounts against loopback seeders (libtorrent with its default settings where the
point is what a seedbox does), and libraries of tiny `.torrent` files where the point is
their number.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import read_at, until
from torrentfs.core.status_schema import LibraryStatus, MountStatus
from torrentfs.status import read_library_status
from torrentfs_tools.loopback import (
    Seeder,
    info_hash_of,
    magnet_for,
    make_torrent,
    tiny_torrents,
    write_tiny_library,
)

pytestmark = pytest.mark.mount

# Generous limits for what should take a second or two; the figures are in `make bench`.
WITHIN_S = 30.0
POLL_S = 0.25
# Long enough for a torrent still in the swarm to have asked for pieces.
QUIET_S = 3.0
MAGNETS = 6
MAX_ACTIVE = 2
# A library's lookups and listings grow with its size, not its square: `find` over ten
# times the torrents may take at most this many times as long.
FIND_RATIO_AT_MOST = 15
READ_BYTES = 4 << 20


def _status(mountpoint: Path) -> LibraryStatus:
    return read_library_status(mountpoint)


def _torrentfs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torrentfs", *args], capture_output=True, text=True, timeout=60
    )


def _until(condition, limit_s: float = WITHIN_S) -> bool:
    return until(condition, limit_s, POLL_S)


def _states(mountpoint: Path) -> dict[str, str]:
    return {t["folder"]: t["state"] for t in _status(mountpoint)["torrents"]}


def _in_swarm(status: LibraryStatus) -> set[str]:
    return {t["folder"] for t in status["torrents"] if t["status"] is not None}


def _small_torrents(folder: Path, count: int) -> list[bytes]:
    """`count` torrents of one 1 MiB file each, under `folder`."""
    torrents = []
    for index in range(count):
        path = folder / f"episode-{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1 << 20))
        torrents.append(make_torrent(path, 64 << 10))
    return torrents


def test_a_library_magnet_nobody_reads_fetches_its_metadata_and_nothing_else(
    single_file, mount, tmp_path
):
    watch = tmp_path / "watch"
    watch.mkdir()
    with Seeder(single_file.data, single_file.parent, tick_interval_ms=None) as seeder:
        mounted = mount(watch)
        link = magnet_for(single_file.data, [seeder.endpoint]) + "&dn=Film"
        (watch / "film.magnet").write_text(link + "\n")
        folder = mounted.mountpoint / "Film"
        assert _until(lambda: folder.is_dir() and os.listdir(folder) == ["movie.bin"])
        # Out of the swarm once it has its metadata, and said so.
        assert _until(lambda: _states(mounted.mountpoint) == {"Film": "idle"}, limit_s=2.0)
        assert _until(lambda: not _in_swarm(_status(mounted.mountpoint)))
        time.sleep(QUIET_S)
        assert seeder.uploaded_bytes() == 0  # the metadata is not payload
        expected = single_file.root.read_bytes()
        assert read_at(folder / "movie.bin", 5000, 70_000) == expected[5000:75_000]
        assert mounted.unmount() == 0


def test_magnets_fetch_their_metadata_in_turn_within_max_active(mount, tmp_path):
    torrents = _small_torrents(tmp_path / "content", MAGNETS)
    watch = tmp_path / "watch"
    watch.mkdir()
    with Seeder(torrents[0], tmp_path / "content", tick_interval_ms=None) as seedbox:
        for data in torrents[1:]:
            seedbox.seed(data, tmp_path / "content")
        mounted = mount(watch, "--max-active", str(MAX_ACTIVE))
        for index, data in enumerate(torrents):
            link = magnet_for(data, [seedbox.endpoint]) + f"&dn=Episode {index}"
            (watch / f".{index}.partial").write_text(link)
        for index in range(MAGNETS):
            os.rename(watch / f".{index}.partial", watch / f"{index}.magnet")
        most_in_swarm = 0
        states_seen: set[str] = set()
        deadline = time.monotonic() + WITHIN_S * 2
        while time.monotonic() < deadline:
            status = _status(mounted.mountpoint)
            most_in_swarm = max(most_in_swarm, len(_in_swarm(status)))
            states_seen.update(t["state"] for t in status["torrents"])
            filled = [mounted.mountpoint / t["folder"] for t in status["torrents"]]
            if len(filled) == MAGNETS and all(os.listdir(path) for path in filled):
                break
            time.sleep(POLL_S)
        assert most_in_swarm <= MAX_ACTIVE
        assert "queued for metadata" in states_seen
        assert sorted(os.listdir(mounted.mountpoint)) == [f"Episode {i}" for i in range(MAGNETS)]
        for index in range(MAGNETS):
            assert os.listdir(mounted.mountpoint / f"Episode {index}") == [f"episode-{index}.bin"]
        time.sleep(QUIET_S)
        assert seedbox.uploaded_bytes() == 0
        assert mounted.unmount() == 0


def test_subfolders_of_the_watch_folder_are_folders_of_the_mount(
    single_file, multi_file, mount, tmp_path
):
    watch = tmp_path / "watch"
    (watch / "tv").mkdir(parents=True)
    (watch / "movies" / "2024").mkdir(parents=True)
    shutil.copy(single_file.torrent_path, watch / "tv" / "a.torrent")
    shutil.copy(multi_file.torrent_path, watch / "movies" / "2024" / "b.torrent")
    with Seeder(single_file.data, single_file.parent) as seeder:
        mounted = mount(watch, "--peer", seeder.peer)
        root = mounted.mountpoint
        assert sorted(os.listdir(root)) == ["movies", "tv"]
        assert os.listdir(root / "tv" / "movie.bin") == ["movie.bin"]
        assert (root / "movies" / "2024" / "Album" / "cover.jpg").stat().st_size == 70_001
        assert {t["folder"] for t in _status(root)["torrents"]} == {
            "tv/movie.bin",
            "movies/2024/Album",
        }
        # A file dropped into a new subfolder.
        [other] = _small_torrents(tmp_path / "content", 1)
        (watch / "docs").mkdir()
        (watch / "docs" / "c.torrent").write_bytes(other)
        assert _until(lambda: (root / "docs").is_dir())
        assert os.listdir(root / "docs") == ["episode-0.bin"]

        # A file moved to another subfolder moves its torrent; an open file reads on.
        expected = single_file.root.read_bytes()
        with (root / "tv" / "movie.bin" / "movie.bin").open("rb", buffering=0) as handle:
            assert handle.read(1000) == expected[:1000]
            (watch / "films").mkdir()
            os.rename(watch / "tv" / "a.torrent", watch / "films" / "a.torrent")
            assert _until(lambda: (root / "films" / "movie.bin").is_dir())
            assert not (root / "tv").exists()  # a subfolder with no torrent left goes
            handle.seek(3 << 20)
            assert handle.read(70_000) == expected[3 << 20 : (3 << 20) + 70_000]
        assert read_at(root / "films" / "movie.bin" / "movie.bin", 0, 100) == expected[:100]
        # `torrentfs add` into a subfolder (made if new): a magnet nobody seeds, named by hash.
        unknown = "ab" * 20
        added = _torrentfs("add", str(root), unknown, "--folder", "tv/new")
        assert (added.returncode, added.stdout) == (0, f"tv/new/{unknown}\n"), added.stderr
        assert (watch / "tv" / "new" / f"{unknown}.magnet").is_file()
        assert mounted.unmount() == 0


def test_status_works_for_a_library_of_a_thousand(mount, tmp_path):
    watch = tmp_path / "watch"
    write_tiny_library(watch, tmp_path / "content", 1000)
    mounted = mount(watch)
    shown = _torrentfs("status", str(mounted.mountpoint))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].endswith(": 1000 torrents")
    assert "  out of the swarm: 1000 idle (--all lists them)" in lines
    every = _torrentfs("status", "--all", str(mounted.mountpoint))
    assert every.returncode == 0, every.stderr
    assert sum(line.endswith("  idle") for line in every.stdout.splitlines()) == 1000
    as_json = _torrentfs("status", "--json", str(mounted.mountpoint))
    assert as_json.returncode == 0, as_json.stderr
    torrents = json.loads(as_json.stdout)["torrents"]
    assert len(torrents) == 1000 and {t["state"] for t in torrents} == {"idle"}
    assert mounted.unmount() == 0


@pytest.mark.parametrize("storage", ["memory", "disk"])
def test_held_bytes_never_exceed_what_was_fetched(single_file, mount, tmp_path, storage):
    watch = tmp_path / "watch"
    watch.mkdir()
    shutil.copy(single_file.torrent_path, watch / "a.torrent")
    with Seeder(single_file.data, single_file.parent) as seeder:
        mounted = mount(watch, "--peer", seeder.peer, "--storage", storage)
        path = mounted.mountpoint / "movie.bin" / "movie.bin"
        assert read_at(path, 0, READ_BYTES) == single_file.root.read_bytes()[:READ_BYTES]
        uploaded = seeder.settled_upload(quiet_s=1.0, limit_s=WITHIN_S)
        assert uploaded is not None
        [torrent] = _status(mounted.mountpoint)["torrents"]
        mount_status: MountStatus | None = torrent["status"]
        assert mount_status is not None
        assert READ_BYTES <= mount_status["held_bytes"] <= uploaded
        store = mount_status["store"]["bytes"]
        working = mount_status["working_files_bytes"] or 0
        in_ram = working if storage == "memory" else 0
        assert mount_status["memory_bytes"] == store + in_ram
        assert mounted.unmount() == 0


def test_finding_in_a_library_grows_with_its_size_not_its_square(mount, tmp_path):
    torrents = tiny_torrents(tmp_path / "content", 10_000)
    took = {}
    for count in (1000, 10_000):
        watch = tmp_path / f"watch{count}"
        watch.mkdir()
        for index, data in enumerate(torrents[:count]):
            (watch / f"{index:05d}.torrent").write_bytes(data)
        mounted = mount(watch)
        start = time.monotonic()
        found = subprocess.run(["find", str(mounted.mountpoint)], capture_output=True, check=True)
        took[count] = time.monotonic() - start
        assert len(found.stdout.splitlines()) == 1 + 2 * count
        assert mounted.unmount() == 0
    assert took[10_000] / took[1000] <= FIND_RATIO_AT_MOST, took


def test_a_torrent_named_in_two_subfolders_is_one_torrent(single_file, mount, tmp_path):
    watch = tmp_path / "watch"
    (watch / "a").mkdir(parents=True)
    (watch / "b").mkdir()
    shutil.copy(single_file.torrent_path, watch / "a" / "x.torrent")
    shutil.copy(single_file.torrent_path, watch / "b" / "x.torrent")
    mounted = mount(watch)
    [torrent] = _status(mounted.mountpoint)["torrents"]
    assert torrent["info_hash"] == info_hash_of(single_file.data)
    assert torrent["folder"] == "a/movie.bin" and sorted(os.listdir(mounted.mountpoint)) == ["a"]
    (watch / "a" / "x.torrent").unlink()
    assert _until(lambda: os.listdir(mounted.mountpoint) == ["b"])
    assert mounted.unmount() == 0
