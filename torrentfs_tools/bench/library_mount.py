"""A library of a thousand torrents: how fast it is up and listed, what it costs while
nobody reads, and the first read of one of them.

Each torrent is one small file of random bytes, announced to a loopback
tracker; two of them are seeded. torrentfs mounts the folder of their
.torrent files; nothing should reach a seeder or the tracker until a file
is read.
"""

import random
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from torrentfs_tools.bench import measure, report
from torrentfs_tools.bench.scenarios import Result
from torrentfs_tools.bench.tracker import LoopbackTracker
from torrentfs_tools.loopback import MountProcess, Seeder, make_torrent, with_trackers

TORRENTS = 1000
READ_INDEX = 737
SEEDED = (0, READ_INDEX)
FILE_BYTES = 256 << 10
PIECE_LENGTH = 64 << 10
QUIET_S = 60.0
SAMPLE_S = 0.5
FIRST_READ_BYTES = 64 << 10
SEEDER_ADDRESSES = ("127.0.0.2", "127.0.0.3")
# Targets (issue 13).
READY_WITHIN_S = 2.0
FIND_WITHIN_S = 2.0
IDLE_MEMORY_AT_MOST = 150 << 20
FIRST_READ_WITHIN_S = 1.5


DESCRIPTION = (
    f"A folder of {TORRENTS} .torrent files (one {FILE_BYTES >> 10} KiB file each, announced "
    "to a loopback tracker, two of them seeded by libtorrent with its default settings) "
    "mounted as a library: the mount coming up, "
    f"`find` over it, then {QUIET_S:.0f} s with nothing read (torrentfs's private memory at "
    "the end; announces the tracker got and peers the seeders had), then the first 64 KiB "
    f"of torrent {READ_INDEX}."
)
MIB = 1 << 20


def _name(index: int) -> str:
    return f"f{index:04d}.bin"


def content(cache: Path) -> tuple[Path, list[bytes]]:
    """The files (made once) and their .torrents (made each run: a second or two)."""
    folder = cache / "library-files"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(737)
    torrents = []
    for index in range(TORRENTS):
        path = folder / _name(index)
        data = rng.randbytes(FILE_BYTES)
        if not path.exists():
            path.write_bytes(data)
        torrents.append(make_torrent(path, PIECE_LENGTH))
    return folder, torrents


def run(cache: Path, work: Path, log: Callable[[str], None]) -> Result:
    folder, torrents = content(cache)
    watch = work / "library-watch"
    watch.mkdir()
    mountpoint = work / "library-mnt"
    mountpoint.mkdir()
    seeders = [
        Seeder(torrents[index], folder, address, tick_interval_ms=None)
        for index, address in zip(SEEDED, SEEDER_ADDRESSES, strict=True)
    ]
    try:
        with LoopbackTracker([s.endpoint for s in seeders]) as tracker:
            for index, data in enumerate(torrents):
                (watch / f"{index:04d}.torrent").write_bytes(
                    with_trackers(data, [tracker.announce_url])
                )
            log(f"library: {TORRENTS} torrents")
            args = ("--cache-dir", str(work / "library-cache"))
            with MountProcess(str(watch), mountpoint, args, work / "library.log") as mount:
                expected = (folder / _name(READ_INDEX)).read_bytes()[:FIRST_READ_BYTES]
                return _measure(mount, mountpoint, seeders, tracker, expected)
    finally:
        for seeder in seeders:
            seeder.close()


def _measure(
    mount: MountProcess,
    mountpoint: Path,
    seeders: Sequence[Seeder],
    tracker: LoopbackTracker,
    expected: bytes,
) -> Result:
    ready_s = mount.wait_mounted()
    start = time.monotonic()
    found = subprocess.run(["find", str(mountpoint)], capture_output=True, check=True)
    find_s = time.monotonic() - start
    entries = len(found.stdout.splitlines())
    announces_before = tracker.announces
    most_peers = 0
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:
        most_peers = max(most_peers, *(s.peer_count() for s in seeders))
        time.sleep(SAMPLE_S)
    idle_memory = measure.private_memory_bytes(mount.process.pid)
    announces = tracker.announces - announces_before
    path = mountpoint / _name(READ_INDEX) / _name(READ_INDEX)
    start = time.monotonic()
    with path.open("rb", buffering=0) as handle:
        first = handle.read(FIRST_READ_BYTES)
    first_read_s = time.monotonic() - start
    return {
        "client": "torrentfs",
        "torrents": TORRENTS,
        "ready_s": ready_s,
        "find_s": find_s,
        "find_entries": entries,
        "idle_private_bytes": idle_memory,
        "quiet_s": QUIET_S,
        "idle_announces": announces,
        "idle_most_seeder_peers": most_peers,
        "first_read_s": first_read_s,
        "first_read_ok": first == expected,
    }


def table(result: Result | None) -> str:
    return report.torrentfs_table(result, _rows)


def _rows(r: Result) -> list[tuple[str, str]]:
    return [
        ("torrents", f"{r['torrents']}"),
        ("mount ready (s)", f"{r['ready_s']:.2f}"),
        ("`find` of the whole mount (s)", f"{r['find_s']:.2f} ({r['find_entries']} entries)"),
        (f"private memory after {r['quiet_s']:.0f} s unread (MiB)",
         f"{r['idle_private_bytes'] / MIB:.0f}"),
        (f"tracker announces in those {r['quiet_s']:.0f} s", f"{r['idle_announces']}"),
        ("most peers at a seeder in that time", f"{r['idle_most_seeder_peers']}"),
        (f"first 64 KiB of torrent {READ_INDEX} (s)", f"{r['first_read_s']:.2f}"),
    ]  # fmt: skip


def targets(result: Result | None) -> list[tuple[str, str, bool]]:
    if result is None or "error" in result:
        return []
    r = result
    return [
        (f"library of {TORRENTS}: ready within {READY_WITHIN_S:g} s", f"{r['ready_s']:.2f}",
         r["ready_s"] <= READY_WITHIN_S),
        (f"library: `find` within {FIND_WITHIN_S:g} s", f"{r['find_s']:.2f}",
         r["find_s"] <= FIND_WITHIN_S),
        ("library: private memory unread at most 150 MiB",
         f"{r['idle_private_bytes'] / MIB:.0f}",
         r["idle_private_bytes"] <= IDLE_MEMORY_AT_MOST),
        ("library: no connection and no announce while unread",
         f"{r['idle_most_seeder_peers']} / {r['idle_announces']}",
         r["idle_most_seeder_peers"] == 0 and r["idle_announces"] == 0),
        (f"library: first 64 KiB of torrent {READ_INDEX} within {FIRST_READ_WITHIN_S:g} s",
         f"{r['first_read_s']:.2f}",
         r["first_read_ok"] and r["first_read_s"] <= FIRST_READ_WITHIN_S),
    ]  # fmt: skip
