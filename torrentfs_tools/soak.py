"""A library under every kind of client at once, sampled, then killed and started again.

The load, all at once: FUSE readers seeking at random, HTTP clients dropping their
connections in the middle of a body, a qBittorrent-API client adding and deleting
magnets, a media-server-like `ffprobe` walk over the whole mount, a `.torrent` dropped
into and removed from the watch folder, and the seeder leaving and coming back. Every
byte a reader gets is checked against the source. The mount's descriptors, threads,
RSS, torrent data in RAM and CPU are sampled throughout.

Then the clients leave (descriptors should go back to where they were), come back, and
the mount is killed with SIGKILL in the middle of their load and started again, as
systemd's `Restart=` does: the start clears the stale mount itself, and the library
comes back whole. `tests/test_soak.py` runs a short soak; `make bench` a long one.
"""

import http.client
import os
import random
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import qbittorrentapi

from torrentfs.core.status_schema import LibraryStatus
from torrentfs.status import read_library_status
from torrentfs_tools.bench.measure import cpu_seconds
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import MountProcess, Seeder, tiny_torrents

HOST = "127.0.0.1"
SEEDER_ADDRESS = "127.0.0.2"
KEPT_BYTES = 1 << 20
READ_BYTES = 64 << 10
HTTP_BODY_AT_MOST = 4 << 20
FUSE_READERS = 2
# The API client's magnet lives this long before it is deleted; the dropped file as long.
ARR_HOLD_S = 0.5
DROP_HOLD_S = 0.5
PROBE_TIMEOUT_S = 60.0
CLIENT_TIMEOUT_S = 60.0
UP_WITHIN_S = 60.0
QUIET_S, SETTLE_LIMIT_S = 2.0, 60.0
METADATA_FOLDER = "metadata"
MOUNT_FLAGS = ("--http-open-on-loopback", "--idle-timeout", "2s", "--idle-disconnect", "4s",
               "--read-timeout", "20s")  # fmt: skip


@dataclass(frozen=True)
class SoakPlan:
    storage: str  # "disk" or "memory"
    load_s: float
    sample_s: float
    tiny_count: int
    http_clients: int
    cache_size: str
    # The seeder leaves this often, for this long.
    seeder_away_every_s: float
    seeder_away_for_s: float
    # The load the kill falls in the middle of.
    kill_load_s: float


class Sample(NamedTuple):
    at_s: float
    descriptors: int
    threads: int
    rss_bytes: int
    # Torrent data in RAM: the store plus working files held in memory.
    data_bytes: int
    cpu_s: float


@dataclass
class SoakOutcome:
    baseline: Sample
    samples: list[Sample] = field(default_factory=list)
    descriptors_after: int = 0
    bytes_checked: int = 0
    wrong: list[str] = field(default_factory=list)
    # Client errors while the mount was up (the kill's are expected, and not here).
    errors: list[str] = field(default_factory=list)
    tracebacks: int = 0
    listed_before: int = 0
    listed_after: int = 0
    up_after_kill_s: float | None = None
    lost_files: list[str] = field(default_factory=list)
    # Disk mode: what the seeder sent again for the region read before the kill.
    resent_bytes: int | None = None


def soak(film: Path, film_torrent: bytes, work: Path, plan: SoakPlan) -> SoakOutcome:
    """Run `plan` on a library of `film` and `plan.tiny_count` tiny torrents under `work`."""
    watch, content, mountpoint = work / "watch", work / "tiny", work / "mnt"
    for folder in (watch, content, mountpoint):
        folder.mkdir()
    (watch / "film.torrent").write_bytes(film_torrent)
    tiny = tiny_torrents(content, plan.tiny_count + 1)
    for index, data in enumerate(tiny[:-1]):
        (watch / f"tiny{index:05}.torrent").write_bytes(data)
    seeder_port, port = free_port(SEEDER_ADDRESS), free_port(HOST)
    args = ["--storage", plan.storage, "--cache-size", plan.cache_size,
            "--cache-dir", str(work / "cache"), "--http", str(port),
            "--peer", f"{SEEDER_ADDRESS}:{seeder_port}", *MOUNT_FLAGS]  # fmt: skip

    def new_seeder() -> Seeder:
        seeder = Seeder(film_torrent, film.parent, SEEDER_ADDRESS, port=seeder_port,
                        tick_interval_ms=None)  # fmt: skip
        for data in tiny:
            seeder.seed(data, content)
        return seeder

    seeders = [new_seeder()]
    original = film.read_bytes()
    film_path = f"{film.name}/{film.name}"  # a torrent's folder is named as the torrent
    first = MountProcess(str(watch), mountpoint, args, log_path=work / "first.log")
    second: MountProcess | None = None
    try:
        first.wait_mounted()
        if not _until(lambda: (mountpoint / film_path).exists(), UP_WITHIN_S):
            raise RuntimeError(f"the film never showed:\n{first.log_text()}")
        with (mountpoint / film_path).open("rb") as handle:
            if handle.read(KEPT_BYTES) != original[:KEPT_BYTES]:
                raise RuntimeError("the first read of the film was wrong")
        pid = first.process.pid
        outcome = SoakOutcome(_sample(pid, mountpoint, 0.0))
        load = _Load(mountpoint, film_path, original, port, watch, tiny[-1], outcome)
        started = time.monotonic()
        stop = threading.Event()
        threads = [
            *load.clients(plan, stop),
            threading.Thread(target=_seeder_cycle, args=(seeders, new_seeder, plan, stop)),
            threading.Thread(target=_sampler, args=(pid, mountpoint, plan, started, outcome)),
        ]
        _run_for(threads, plan.load_s, stop)
        # Left alone, the film leaves the swarm, its resume data saved: what was read before
        # the kill is on the disk and claimed in it.
        _until(lambda: _film_left(mountpoint, film.name), UP_WITHIN_S)
        _until(lambda: _descriptors(pid) <= outcome.baseline.descriptors, UP_WITHIN_S)
        outcome.descriptors_after = _descriptors(pid)
        outcome.tracebacks = first.log_text().count("Traceback")
        # The API's magnet and the dropped file gone with their clients.
        _until(lambda: _listed(mountpoint) == plan.tiny_count + 1, UP_WITHIN_S)
        outcome.listed_before = _listed(mountpoint)
        kept_files = _files(watch) | _files(work / "cache" / METADATA_FOLDER)

        # Again, and SIGKILL in the middle of it; client errors from here on are the kill's.
        load.count_errors = False
        stop = threading.Event()
        threads = load.clients(plan, stop)
        for thread in threads:
            thread.start()
        time.sleep(plan.kill_load_s / 2)
        first.process.kill()
        first.process.wait()
        killed = time.monotonic()
        second = MountProcess(str(watch), mountpoint, args, log_path=work / "second.log")
        second.wait_mounted(UP_WITHIN_S)
        if _until(lambda: _listed(mountpoint) >= outcome.listed_before, UP_WITHIN_S):
            outcome.up_after_kill_s = time.monotonic() - killed
        time.sleep(plan.kill_load_s / 2)
        stop.set()
        for thread in threads:
            thread.join()
        outcome.listed_after = _listed(mountpoint)
        outcome.lost_files = sorted(
            str(path) for path, data in kept_files.items() if _read(path) != data
        )
        if plan.storage == "disk":
            outcome.resent_bytes = _resent_for(seeders[0], mountpoint / film_path, original)
        if second.unmount() != 0:
            raise RuntimeError(f"the restarted mount failed:\n{second.log_text()}")
        return outcome
    finally:
        for process in (second, first):
            if process is not None:
                process.close()
        for seeder in seeders:
            seeder.close()


class _Load:
    """The clients: each a loop until `stop`, checking every byte it is given."""

    def __init__(
        self,
        mountpoint: Path,
        film_path: str,
        original: bytes,
        port: int,
        watch: Path,
        spare: bytes,
        outcome: SoakOutcome,
    ) -> None:
        self._mountpoint, self._film_path, self._original = mountpoint, film_path, original
        self._port, self._watch, self._spare, self._outcome = port, watch, spare, outcome
        self._lock = threading.Lock()
        self._walk: Iterator[str] = iter(())
        self.count_errors = True

    def clients(self, plan: SoakPlan, stop: threading.Event) -> list[threading.Thread]:
        loops: list[Callable[[random.Random], None]] = [self.fuse_reader] * FUSE_READERS
        loops += [self.http_dropper] * plan.http_clients
        loops += [self.arr, self.dropper, self.probe_walk]
        return [
            threading.Thread(target=self._loop, args=(work, random.Random(seed), stop))
            for seed, work in enumerate(loops)
        ]

    def _loop(
        self, work: Callable[[random.Random], None], rng: random.Random, stop: threading.Event
    ) -> None:
        while not stop.is_set():
            try:
                work(rng)
            except (
                OSError,
                http.client.HTTPException,
                subprocess.SubprocessError,
                qbittorrentapi.APIError,
            ) as error:
                if self.count_errors:
                    with self._lock:
                        self._outcome.errors.append(f"{work.__name__}: {error!r}")
                stop.wait(1.0)

    def _check(self, offset: int, data: bytes, where: str) -> None:
        with self._lock:
            self._outcome.bytes_checked += len(data)
            if data != self._original[offset : offset + len(data)]:
                self._outcome.wrong.append(f"{where}: wrong bytes at {offset}")

    def fuse_reader(self, rng: random.Random) -> None:
        offset = rng.randrange(0, len(self._original) - READ_BYTES)
        with (self._mountpoint / self._film_path).open("rb", buffering=0) as handle:
            handle.seek(offset)
            self._check(offset, handle.read(READ_BYTES), "FUSE")

    def http_dropper(self, rng: random.Random) -> None:
        offset = rng.randrange(0, len(self._original) - READ_BYTES)
        connection = http.client.HTTPConnection(HOST, self._port, timeout=CLIENT_TIMEOUT_S)
        try:
            connection.request(
                "GET",
                "/files/" + urllib.parse.quote(self._film_path),
                headers={"Range": f"bytes={offset}-", "User-Agent": f"soak {rng.random()}"},
            )
            response = connection.getresponse()
            if response.status != 206:
                raise http.client.HTTPException(f"status {response.status}")
            # Then gone, in the middle of the body.
            self._check(offset, response.read(rng.randrange(1, HTTP_BODY_AT_MOST)), "HTTP")
        finally:
            connection.close()

    def arr(self, rng: random.Random) -> None:
        api = qbittorrentapi.Client(host=HOST, port=self._port, REQUESTS_ARGS={"timeout": 30})
        info_hash = rng.randbytes(20).hex()
        api.torrents_add(urls=f"magnet:?xt=urn:btih:{info_hash}", category="tv")
        time.sleep(ARR_HOLD_S)
        api.torrents_delete(torrent_hashes=info_hash, delete_files=True)

    def dropper(self, rng: random.Random) -> None:
        spare = self._watch / "spare.torrent"
        spare.write_bytes(self._spare)
        time.sleep(DROP_HOLD_S)
        spare.unlink()
        time.sleep(DROP_HOLD_S)

    def probe_walk(self, rng: random.Random) -> None:
        """What a media server does to a library: probe every file, one after another (one
        a call, so that the walk stops with the load), and again from the top."""
        path = next(self._walk, None)
        if path is None:
            self._walk = _every_file(self._mountpoint)
            return
        subprocess.run(
            ["ffprobe", "-v", "quiet", "-show_format", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )


def _every_file(root: Path) -> Iterator[str]:
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            yield os.path.join(folder, name)


def _run_for(threads: list[threading.Thread], seconds: float, stop: threading.Event) -> None:
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()


def _seeder_cycle(
    seeders: list[Seeder], new_seeder: Callable[[], Seeder], plan: SoakPlan, stop: threading.Event
) -> None:
    while not stop.wait(plan.seeder_away_every_s):
        seeders[0].close()
        stop.wait(plan.seeder_away_for_s)
        seeders[0] = new_seeder()


def _sampler(
    pid: int, mountpoint: Path, plan: SoakPlan, started: float, outcome: SoakOutcome
) -> None:
    while time.monotonic() - started < plan.load_s:
        outcome.samples.append(_sample(pid, mountpoint, time.monotonic() - started))
        time.sleep(plan.sample_s)


def _sample(pid: int, mountpoint: Path, at_s: float) -> Sample:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Sample(
        at_s,
        _descriptors(pid),
        int(fields["Threads"]),
        int(fields["VmRSS"].split()[0]) << 10,
        _data_bytes(read_library_status(mountpoint)),
        cpu_seconds(pid),
    )


def _data_bytes(status: LibraryStatus) -> int:
    return sum(
        torrent["status"].get("memory_bytes", 0)
        for torrent in status["torrents"]
        if torrent["status"] is not None
    )


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _film_left(mountpoint: Path, folder: str) -> bool:
    return any(
        torrent["folder"] == folder and torrent["status"] is None
        for torrent in read_library_status(mountpoint)["torrents"]
    )


def _listed(mountpoint: Path) -> int:
    try:
        return read_library_status(mountpoint)["torrent_count"]
    except OSError:
        return 0


def _files(folder: Path) -> dict[Path, bytes]:
    if not folder.exists():
        return {}
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _resent_for(seeder: Seeder, film: Path, original: bytes) -> int:
    """What the seeder sends while the region read before the kill is read again."""
    before = seeder.settled_upload(QUIET_S, SETTLE_LIMIT_S)
    with film.open("rb") as handle:
        if handle.read(KEPT_BYTES) != original[:KEPT_BYTES]:
            raise RuntimeError("the region read before the kill came back wrong")
    after = seeder.settled_upload(QUIET_S, SETTLE_LIMIT_S)
    if before is None or after is None:
        raise RuntimeError("the seeder never stopped sending")
    return after - before


def _until(condition: Callable[[], bool], limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
