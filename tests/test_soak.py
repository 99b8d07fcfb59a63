"""A short soak of a library in disk mode: every kind of client at once for a bounded time,
then `kill -9` and a restart, as systemd's Restart= would do it.

The load: two FUSE readers seeking at random, HTTP clients that drop their connections
in the middle of a body, a qBittorrent-API client adding and deleting magnets, files
dropped into and removed from the watch folder, and the seeder leaving and coming back.
Sampled every second: descriptors, threads and memory. `make bench` runs the long
version; this one checks that nothing grows, no byte is wrong, no client going away
leaves a traceback, and a killed mount comes back by itself with nothing lost.
"""

import os
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import qbittorrentapi

from tests.helpers import SEEDER_ADDRESS, SampleTorrent, until
from torrentfs.core.status_schema import LibraryStatus
from torrentfs.status import read_library_status
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import MountProcess, Seeder, tiny_torrents

pytestmark = pytest.mark.mount

HOST = "127.0.0.1"
LOAD_S = 40.0
SAMPLE_S = 1.0
TINY_TORRENTS = 30
READ_BYTES = 64 << 10
HTTP_CLIENTS = 4
# The seeder goes away for a while in the middle of the load.
SEEDER_AWAY_FROM_S, SEEDER_AWAY_FOR_S = 15.0, 5.0
# Threads a soak may add: trio keeps idle worker threads for a while, libtorrent a few.
THREAD_SLACK = 8
DESCRIPTOR_SLACK = 8
UP_WITHIN_S = 30.0


def _status(mountpoint: Path) -> LibraryStatus:
    return read_library_status(mountpoint)


def _sample(pid: int) -> tuple[int, int, int]:
    """Descriptors, threads and resident KiB of process `pid`."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    return descriptors, int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def _for(seconds: float, work: Callable[[random.Random], None], seed: int) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work(rng)


def test_a_library_under_every_kind_of_load_stays_flat_and_survives_kill_9(
    single_file: SampleTorrent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    watch, content = tmp_path / "watch", tmp_path / "tiny"
    watch.mkdir()
    shutil.copy(single_file.torrent_path, watch / "film.torrent")
    for index, data in enumerate(tiny_torrents(content, TINY_TORRENTS)):
        (watch / f"tiny{index:02}.torrent").write_bytes(data)
    spare = tiny_torrents(content, TINY_TORRENTS + 1)[-1]
    original = single_file.root.read_bytes()
    # A torrent's folder is named as the torrent is: here after its one file.
    film = f"{single_file.root.name}/{single_file.root.name}"
    port = free_port(HOST)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    args = ["--storage", "disk", "--http", str(port), "--http-open-on-loopback",
            "--peer", f"{SEEDER_ADDRESS}:{free_port(SEEDER_ADDRESS)}",
            "--idle-timeout", "2s", "--idle-disconnect", "4s", "--read-timeout", "20s"]  # fmt: skip
    seeder_port = int(args[args.index("--peer") + 1].rsplit(":", 1)[1])
    seeders = [
        Seeder(single_file.data, single_file.parent, port=seeder_port, tick_interval_ms=None)
    ]
    for data in tiny_torrents(content, TINY_TORRENTS):
        seeders[0].seed(data, content)
    first = MountProcess(str(watch), mountpoint, args, log_path=tmp_path / "first.log")
    second: MountProcess | None = None
    try:
        first.wait_mounted()
        assert until(lambda: (mountpoint / film).exists(), UP_WITHIN_S)
        # The region read before the kill: verified, and on the disk by then.
        kept = original[: 1 << 20]
        assert (mountpoint / film).open("rb").read(1 << 20) == kept
        pid = first.process.pid
        baseline = _sample(pid)
        failures: list[str] = []

        def fuse_reader(rng: random.Random) -> None:
            offset = rng.randrange(0, len(original) - READ_BYTES)
            with (mountpoint / film).open("rb", buffering=0) as handle:
                handle.seek(offset)
                if handle.read(READ_BYTES) != original[offset : offset + READ_BYTES]:
                    failures.append(f"wrong bytes at {offset}")

        def http_dropper(rng: random.Random) -> None:
            offset = rng.randrange(0, len(original) - READ_BYTES)
            with socket.create_connection((HOST, port), timeout=30) as connection:
                connection.sendall(
                    f"GET /files/{film} HTTP/1.1\r\nHost: x\r\nUser-Agent: c{rng.random()}\r\n"
                    f"Range: bytes={offset}-\r\n\r\n".encode()
                )
                connection.recv(rng.randrange(1, 65536))  # then gone, mid-body

        api = qbittorrentapi.Client(host=HOST, port=port)

        def arr(rng: random.Random) -> None:
            info_hash = rng.randbytes(20).hex()
            api.torrents_add(urls=f"magnet:?xt=urn:btih:{info_hash}", category="tv")
            time.sleep(0.5)
            api.torrents_delete(torrent_hashes=info_hash, delete_files=True)

        def dropper(rng: random.Random) -> None:
            (watch / "spare.torrent").write_bytes(spare)
            time.sleep(0.5)
            (watch / "spare.torrent").unlink()
            time.sleep(0.5)

        def seeder_away() -> None:
            time.sleep(SEEDER_AWAY_FROM_S)
            seeders[0].close()
            time.sleep(SEEDER_AWAY_FOR_S)
            seeders[0] = Seeder(
                single_file.data, single_file.parent, port=seeder_port, tick_interval_ms=None
            )

        samples: list[tuple[int, int, int]] = []

        def sampler() -> None:
            deadline = time.monotonic() + LOAD_S
            while time.monotonic() < deadline:
                samples.append(_sample(pid))
                time.sleep(SAMPLE_S)

        load = [threading.Thread(target=_for, args=(LOAD_S, fuse_reader, seed)) for seed in (1, 2)]
        load += [
            threading.Thread(target=_for, args=(LOAD_S, http_dropper, 10 + seed))
            for seed in range(HTTP_CLIENTS)
        ]
        load += [
            threading.Thread(target=_for, args=(LOAD_S, arr, 20)),
            threading.Thread(target=_for, args=(LOAD_S, dropper, 30)),
            threading.Thread(target=seeder_away),
            threading.Thread(target=sampler),
        ]
        for thread in load:
            thread.start()
        for thread in load:
            thread.join()
        assert failures == []
        # Flat: the last third of the load no higher than the first third (and slack).
        third = len(samples) // 3
        early, late = samples[:third], samples[-third:]
        assert max(s[1] for s in late) <= max(s[1] for s in early) + THREAD_SLACK, samples
        assert max(s[2] for s in late) <= 1.5 * max(s[2] for s in early), samples
        # The clients gone: descriptors back to where they were before them.
        assert until(lambda: _sample(pid)[0] <= baseline[0] + DESCRIPTOR_SLACK, UP_WITHIN_S), (
            baseline,
            _sample(pid),
        )
        assert "Traceback" not in first.log_text()

        def listed() -> set[str]:
            return {t["folder"] for t in _status(mountpoint)["torrents"]}

        # The last file dropped and removed, and the last magnet deleted, have gone.
        assert until(lambda: len(listed()) == TINY_TORRENTS + 1, UP_WITHIN_S), listed()
        names = listed()
        # Its region is on the disk and in the resume data once the film leaves the swarm.
        assert until(
            lambda: any(
                t["folder"] == single_file.root.name and t["status"] is None
                for t in _status(mountpoint)["torrents"]
            ),
            UP_WITHIN_S,
        )

        first.process.kill()
        first.process.wait()
        # No seeder from here on: what the restarted mount reads, it had kept.
        seeders[0].close()
        second = MountProcess(str(watch), mountpoint, args, log_path=tmp_path / "second.log")
        second.wait_mounted(UP_WITHIN_S)
        assert until(lambda: listed() == names, UP_WITHIN_S), names ^ listed()
        assert (mountpoint / film).open("rb").read(1 << 20) == kept
        assert sorted(os.listdir(watch)) == sorted(
            ["film.torrent", *(f"tiny{i:02}.torrent" for i in range(TINY_TORRENTS)), "tv"]
        )
        assert second.unmount() == 0
    finally:
        for process in (second, first):
            if process is not None:
                process.close()
        for seeder in seeders:
            seeder.close()
