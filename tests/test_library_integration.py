"""Library mounts: a folder of .torrent and .magnet files as one mount, a folder per torrent.

Real mounts against loopback seeders: the watch folder followed at runtime,
`torrentfs add` and `remove`, files that are not torrents, torrents started
only when read, and a torrent removed while one of its files is open.
"""

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import read_at, sha256_of
from torrentfs.core.status_schema import LibraryStatus
from torrentfs.engine.storage import memory_root
from torrentfs.status import read_library_status, read_status
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import Seeder, info_hash_of, magnet_for, make_torrent

pytestmark = pytest.mark.mount

SECOND_SEEDER_ADDRESS = "127.0.0.3"
# The mount scans its watch folder twice a second; a change shows within this.
LISTED_WITHIN_S = 10.0
# Long enough for a torrent that was started to have dialed its seeder.
QUIET_S = 3.0
POLL_S = 0.1
# Long enough for libtorrent to have given up on a peer that refuses it (3 failed
# dials at one a second, more apart each time).
SEEDER_AWAY_S = 10.0


def _torrentfs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torrentfs", *args], capture_output=True, text=True, timeout=30
    )


def _until_listed(mountpoint: Path, expected: set[str]) -> set[str]:
    """The mount's top-level names once they are `expected`, or as they are after the limit."""
    deadline = time.monotonic() + LISTED_WITHIN_S
    while True:
        names = set(os.listdir(mountpoint))
        if names == expected or time.monotonic() > deadline:
            return names
        time.sleep(POLL_S)


def _until_filled(folder: Path) -> list[str]:
    """A magnet's folder once its metadata has filled it, or as it is after the limit."""
    deadline = time.monotonic() + LISTED_WITHIN_S
    while not os.listdir(folder) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return os.listdir(folder)


def _status(mountpoint: Path) -> LibraryStatus:
    return read_library_status(mountpoint)


def _watch_folder(tmp_path: Path, *samples) -> Path:
    """A watch folder with the samples' .torrent files as 1.torrent, 2.torrent...: a
    folder of the mount is named after its torrent, not its file."""
    folder = tmp_path / "watch"
    folder.mkdir()
    for number, sample in enumerate(samples, 1):
        shutil.copy(sample.torrent_path, folder / f"{number}.torrent")
    return folder


def test_a_library_shows_a_folder_per_torrent_and_follows_its_watch_folder(
    single_file, multi_file, mount, tmp_path
):
    watch = _watch_folder(tmp_path, single_file, multi_file)
    (watch / "notes.txt").write_text("not a torrent")
    with (
        Seeder(single_file.data, single_file.parent, "127.0.0.2") as one,
        Seeder(multi_file.data, multi_file.parent, SECOND_SEEDER_ADDRESS) as other,
    ):
        mounted = mount(watch, "--peer", one.peer, "--peer", other.peer)
        root = mounted.mountpoint
        assert set(os.listdir(root)) == {"movie.bin", "Album"}
        movie = single_file.root.read_bytes()
        assert read_at(root / "movie.bin" / "movie.bin", 1000, 70_000) == movie[1000:71_000]
        for relative, data in multi_file.files().items():
            assert (root / "Album" / relative).read_bytes() == data, relative
        [rejected] = _status(root)["rejected"]
        assert rejected["file"] == "notes.txt" and "neither a .torrent" in rejected["reason"]

        (watch / "2.torrent").unlink()
        assert _until_listed(root, {"movie.bin"}) == {"movie.bin"}
        added = _torrentfs("add", str(root), str(multi_file.torrent_path))
        assert (added.returncode, added.stdout) == (0, "Album\n"), added.stderr
        assert set(os.listdir(root)) == {"movie.bin", "Album"}
        assert (root / "Album" / "cover.jpg").read_bytes() == multi_file.files()["cover.jpg"]
        removed = _torrentfs("remove", str(root), "Album")
        assert (removed.returncode, removed.stdout) == (0, "Album\n"), removed.stderr
        assert _until_listed(root, {"movie.bin"}) == {"movie.bin"}
        missing = _torrentfs("remove", str(root), "Album")
        assert missing.returncode == 2 and "no torrent named 'Album'" in missing.stderr
        assert mounted.unmount() == 0


def test_a_torrent_is_started_only_when_one_of_its_files_is_read(single_file, mount, tmp_path):
    watch = _watch_folder(tmp_path, single_file)
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        mounted = mount(watch, "--peer", seeder.peer)
        folder = mounted.mountpoint / "movie.bin"
        # Listing and stat cost nothing: no connection, nothing sent.
        assert os.listdir(folder) == ["movie.bin"]
        assert (folder / "movie.bin").stat().st_size == single_file.root.stat().st_size
        deadline = time.monotonic() + QUIET_S
        while time.monotonic() < deadline:
            assert seeder.peer_count() == 0
            time.sleep(POLL_S)
        assert _in_swarm(mounted.mountpoint) == set()
        assert _states(mounted.mountpoint) == {"movie.bin": "idle"}
        # Not even a working folder in RAM until then.
        working = memory_root() / str(mounted.process.pid)
        assert list(working.iterdir()) == []
        assert read_at(folder / "movie.bin", 0, 100) == single_file.root.read_bytes()[:100]
        assert [path.name for path in working.iterdir()] == [info_hash_of(single_file.data)]
        assert seeder.uploaded_bytes() > 0
        assert _in_swarm(mounted.mountpoint) == {"movie.bin"}
        assert _states(mounted.mountpoint) == {"movie.bin": "reading"}
        shown = _torrentfs("status", str(mounted.mountpoint))
        [line] = [line for line in shown.stdout.splitlines() if "movie.bin" in line]
        assert line.strip().startswith("movie.bin  reading, ") and line.endswith(" MiB of RAM")
        assert mounted.unmount() == 0


def test_a_read_is_answered_while_a_watch_folder_file_is_slow_to_read(
    single_file, multi_file, mount, tmp_path
):
    """A watch-folder file on a slow disk must not hold up the library's reads. The slow
    disk: another torrentfs mount, whose one file (a .torrent) waits for a seeder that comes
    only once the library has answered."""
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "album.torrent").write_bytes(multi_file.data)
    (tmp_path / "inner.torrent").write_bytes(make_torrent(inner / "album.torrent", 16 << 10))
    later = (SECOND_SEEDER_ADDRESS, free_port(SECOND_SEEDER_ADDRESS))
    slow_disk = mount(tmp_path / "inner.torrent", "--peer", "{}:{}".format(*later),
                      "--read-timeout", "5m")  # fmt: skip
    watch = _watch_folder(tmp_path, single_file)
    movie = single_file.root.read_bytes()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        library = mount(watch, "--peer", seeder.peer)
        path = library.mountpoint / "movie.bin" / "movie.bin"
        assert read_at(path, 0, 1000) == movie[:1000]
        (watch / "album.torrent").symlink_to(slow_disk.mountpoint / "album.torrent")
        # The library is reading it: the slow disk has a reader, waiting.
        deadline = time.monotonic() + LISTED_WITHIN_S
        while not read_status(slow_disk.mountpoint).get("open_files"):
            assert time.monotonic() < deadline, "the library never read the slow file"
            time.sleep(POLL_S)
        assert read_at(path, 5_000_000, 1000) == movie[5_000_000:5_001_000]
        status = _status(library.mountpoint)
        assert "album.torrent" not in {r["file"] for r in status["rejected"]}
        assert {t["folder"] for t in status["torrents"]} == {"movie.bin"}
        # Still waiting: the read above was answered before the slow file was.
        assert read_status(slow_disk.mountpoint).get("open_files")
        with Seeder(make_torrent(inner / "album.torrent", 16 << 10), inner, later[0],
                    port=later[1]):  # fmt: skip
            assert _until_listed(library.mountpoint, {"movie.bin", "Album"}) == {
                "movie.bin",
                "Album",
            }
        assert library.unmount() == 0
    assert slow_disk.unmount() == 0


def _states(mountpoint: Path) -> dict[str, str]:
    return {t["folder"]: t["state"] for t in _status(mountpoint)["torrents"]}


def _in_swarm(mountpoint: Path) -> set[str]:
    """The folders whose torrent is in the session (only those have a mount status)."""
    return {t["folder"] for t in _status(mountpoint)["torrents"] if t["status"] is not None}


def _until_out_of_swarm(mountpoint: Path, folder: str) -> bool:
    deadline = time.monotonic() + LISTED_WITHIN_S
    while folder in _in_swarm(mountpoint) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return folder not in _in_swarm(mountpoint)


def test_a_torrent_nobody_reads_leaves_the_swarm_and_comes_back_when_read(
    single_file, mount, tmp_path
):
    watch = _watch_folder(tmp_path, single_file)
    movie = single_file.root.read_bytes()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        quick = ("--idle-timeout", "1s", "--idle-disconnect", "2s")
        mounted = mount(watch, "--peer", seeder.peer, *quick)
        path = mounted.mountpoint / "movie.bin" / "movie.bin"
        assert read_at(path, 0, 1000) == movie[:1000]
        assert _until_out_of_swarm(mounted.mountpoint, "movie.bin")
        deadline = time.monotonic() + LISTED_WITHIN_S
        while seeder.peer_count() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert seeder.peer_count() == 0
        assert read_at(path, 500_000, 1000) == movie[500_000:501_000]
        assert _states(mounted.mountpoint)["movie.bin"] == "reading"
        assert mounted.unmount() == 0


def test_opening_a_file_beyond_max_active_sends_the_least_recent_torrent_out(
    single_file, multi_file, mount, tmp_path
):
    watch = _watch_folder(tmp_path, single_file, multi_file)
    with (
        Seeder(single_file.data, single_file.parent, "127.0.0.2") as one,
        Seeder(multi_file.data, multi_file.parent, SECOND_SEEDER_ADDRESS) as other,
    ):
        mounted = mount(watch, "--peer", one.peer, "--peer", other.peer, "--max-active", "1")
        root = mounted.mountpoint
        assert (
            read_at(root / "movie.bin" / "movie.bin", 0, 100) == single_file.root.read_bytes()[:100]
        )
        assert _in_swarm(root) == {"movie.bin"}
        assert (root / "Album" / "cover.jpg").read_bytes() == multi_file.files()["cover.jpg"]
        assert _until_out_of_swarm(root, "movie.bin")
        assert _in_swarm(root) == {"Album"}
        assert mounted.unmount() == 0


def test_two_torrents_read_at_once_share_one_ram_budget(single_file, fifty_files, mount, tmp_path):
    watch = _watch_folder(tmp_path, single_file, fifty_files)
    # The smallest cache: half of it is the RAM store all torrents share.
    cache_bytes = 16 << 20
    with (
        Seeder(single_file.data, single_file.parent, "127.0.0.2") as one,
        Seeder(fifty_files.data, fifty_files.parent, SECOND_SEEDER_ADDRESS) as other,
    ):
        mounted = mount(
            watch, "--peer", one.peer, "--peer", other.peer, "--cache-size", str(cache_bytes)
        )
        root = mounted.mountpoint
        reads = {
            root / "movie.bin" / "movie.bin": single_file.root.read_bytes(),
            root / "Season" / "video-17.mkv": fifty_files.files()["video-17.mkv"],
        }
        with concurrent.futures.ThreadPoolExecutor(len(reads)) as pool:
            got = dict(zip(reads, pool.map(sha256_of, reads), strict=True))
        for path, data in reads.items():
            assert got[path] == hashlib.sha256(data).hexdigest(), path
        stores = [t["status"]["store"] for t in _status(root)["torrents"] if t["status"]]
        assert len(stores) == 2
        assert {store["budget_bytes"] for store in stores} == {cache_bytes // 2}
        assert sum(store["bytes"] for store in stores) <= cache_bytes // 2
        assert mounted.unmount() == 0


def test_a_file_open_when_its_torrent_is_removed_reads_on_until_closed(
    single_file, mount, tmp_path
):
    watch = _watch_folder(tmp_path, single_file)
    movie = single_file.root.read_bytes()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        mounted = mount(watch, "--peer", seeder.peer)
        with (mounted.mountpoint / "movie.bin" / "movie.bin").open("rb", buffering=0) as handle:
            assert handle.read(1000) == movie[:1000]
            (watch / "1.torrent").unlink()
            assert _until_listed(mounted.mountpoint, set()) == set()
            handle.seek(len(movie) - 5000)
            assert handle.read(5000) == movie[-5000:]
        assert _status(mounted.mountpoint)["torrents"] == []
        assert mounted.unmount() == 0


def test_a_magnet_file_is_a_folder_that_fills_once_its_metadata_comes(single_file, mount, tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        link = magnet_for(single_file.data, [seeder.endpoint]) + "&dn=Film"
        (watch / "film.magnet").write_text(link + "\n")
        mounted = mount(watch)
        folder = mounted.mountpoint / "Film"
        assert _until_filled(folder) == ["movie.bin"]
        assert read_at(folder / "movie.bin", 0, 4096) == single_file.root.read_bytes()[:4096]
        assert mounted.unmount() == 0


def test_a_magnet_without_a_name_is_named_by_its_hash_until_its_metadata_comes(
    multi_file, mount, tmp_path
):
    watch = tmp_path / "watch"
    watch.mkdir()
    with Seeder(multi_file.data, multi_file.parent, "127.0.0.2") as seeder:
        (watch / "album.magnet").write_text(magnet_for(multi_file.data, [seeder.endpoint]))
        mounted = mount(watch)
        assert _until_listed(mounted.mountpoint, {"Album"}) == {"Album"}
        assert (mounted.mountpoint / "Album" / "cover.jpg").read_bytes() == (
            multi_file.files()["cover.jpg"]
        )
        assert mounted.unmount() == 0


def test_a_magnet_whose_metadata_never_comes_blocks_nothing_else(single_file, mount, tmp_path):
    watch = _watch_folder(tmp_path, single_file)
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        # No such torrent, and nobody listens at the magnet's one peer.
        lost = f"magnet:?xt=urn:btih:{'ab' * 20}&x.pe={SECOND_SEEDER_ADDRESS}:9&dn=Lost"
        (watch / "lost.magnet").write_text(lost)
        # With room for one torrent: the magnet still fetching is not sent out for it.
        mounted = mount(watch, "--peer", seeder.peer, "--max-active", "1")
        root = mounted.mountpoint
        assert set(os.listdir(root)) == {"movie.bin", "Lost"}
        movie = single_file.root.read_bytes()
        assert read_at(root / "movie.bin" / "movie.bin", 0, 100) == movie[:100]
        assert os.listdir(root / "Lost") == []
        assert _states(root) == {"movie.bin": "reading", "Lost": "fetching metadata"}
        assert mounted.unmount() == 0


def test_a_magnet_whose_metadata_comes_after_idle_disconnect_leaves_the_swarm_with_it(
    single_file, mount, tmp_path
):
    watch = tmp_path / "watch"
    watch.mkdir()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as absent:
        endpoint = absent.endpoint
    link = magnet_for(single_file.data, [endpoint]) + "&dn=Film"
    (watch / "film.magnet").write_text(link)
    quick = ("--idle-timeout", "1s", "--idle-disconnect", "2s")
    mounted = mount(watch, *quick)
    # Past --idle-disconnect with nobody reading, and no metadata yet.
    time.sleep(QUIET_S)
    assert _states(mounted.mountpoint) == {"Film": "fetching metadata"}
    with Seeder(single_file.data, single_file.parent, endpoint[0], port=endpoint[1]) as seeder:
        folder = mounted.mountpoint / "Film"
        assert _until_filled(folder) == ["movie.bin"]
        # Nobody read it meanwhile: out of the swarm now it has what it came for.
        assert _until_out_of_swarm(mounted.mountpoint, "Film")
        deadline = time.monotonic() + LISTED_WITHIN_S
        while seeder.peer_count() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert seeder.peer_count() == 0
        assert read_at(folder / "movie.bin", 0, 4096) == single_file.root.read_bytes()[:4096]
        assert mounted.unmount() == 0


def test_a_magnets_metadata_is_kept_so_a_restart_lists_it_and_a_read_waits_for_peers(
    single_file, mount, tmp_path
):
    watch = tmp_path / "watch"
    watch.mkdir()
    cache = ("--cache-dir", str(tmp_path / "cache"))
    movie = single_file.root.read_bytes()
    with Seeder(single_file.data, single_file.parent, "127.0.0.2") as seeder:
        port = seeder.port
        link = magnet_for(single_file.data, [seeder.endpoint]) + "&dn=Film"
        (watch / "film.magnet").write_text(link + "\n")
        first = mount(watch, *cache)
        assert _until_filled(first.mountpoint / "Film") == ["movie.bin"]
        assert first.unmount() == 0
    # No seeder now: the listing comes from the kept metadata.
    second = mount(watch, *cache)
    assert os.listdir(second.mountpoint) == ["Film"]
    path = second.mountpoint / "Film" / "movie.bin"
    assert os.listdir(path.parent) == ["movie.bin"]
    assert path.stat().st_size == len(movie)
    # A read waits for a peer rather than failing; the seeder's return answers it. A
    # thread, not a `with` pool: a read that never ends must not hang the test.
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        waiting = pool.submit(read_at, path, 300_000, 4096)
        time.sleep(SEEDER_AWAY_S)
        assert not waiting.done()
        assert _states(second.mountpoint) == {"Film": "reading"}
        with Seeder(single_file.data, single_file.parent, "127.0.0.2", port=port):
            assert waiting.result(timeout=LISTED_WITHIN_S) == movie[300_000:304_096]
            assert second.unmount() == 0
    finally:
        second.close()
        pool.shutdown(wait=False)


def test_a_missing_watch_folder_is_one_line_and_exit_2(tmp_path):
    watch = tmp_path / "watch"
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = _torrentfs("mount", str(watch), str(mountpoint), "--no-dht", "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert result.stderr.startswith(f"torrentfs: error: no such file: {watch} ")
    assert "a folder of .torrent and .magnet files" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not os.path.ismount(mountpoint)
