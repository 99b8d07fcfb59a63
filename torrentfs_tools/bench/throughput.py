"""The sequential-read rate of each storage mode, on a file twice the cache size.

Memory mode keeps its working files within half of `--cache-size` by making
libtorrent forget pieces, which costs the torrent its connections each time;
this measures what that costs against disk mode, which forgets nothing.
"""

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from torrentfs.status import read_status
from torrentfs_tools.bench import media, scenarios
from torrentfs_tools.bench.clients import BtfsClient, Client, TorrentfsClient
from torrentfs_tools.bench.measure import PeakSampler, cpu_seconds, private_memory_bytes
from torrentfs_tools.bench.report import figures_table, seconds_text
from torrentfs_tools.bench.swarm import Swarm

Result = scenarios.Result
RunScenario = Callable[..., Result]

PIECE_LENGTH = 4 * media.MIB
# Half the 1 GiB file: the read passes through the cache twice over.
CACHE_SIZE = "512M"
# Memory mode at least this share of disk mode's rate.
MEMORY_SHARE_TARGET = 0.7
# Memory mode's rate and CPU at each cache size, on a file that fits the biggest.
CACHE_SIZES = ("256M", "512M", "1G")
CACHE_FILE_BYTES = 512 * media.MIB
SAMPLE_S = 0.1
MEMORY = "torrentfs: memory storage"
DISK = "torrentfs: disk storage"
DESCRIPTION = (
    f"A 1 GiB file in {PIECE_LENGTH // media.MIB} MiB pieces read from start to end, from two "
    "unlimited seeders with libtorrent's default settings; torrentfs with "
    f"`--cache-size {CACHE_SIZE}`, so the file is twice its cache: memory mode has libtorrent "
    "forget pieces as it goes, disk mode keeps them all. Peak memory as in the table above."
)
CLIENTS: dict[str, Callable[[Path], Client]] = {
    MEMORY: functools.partial(
        TorrentfsClient, extra_args=("--cache-size", CACHE_SIZE), name=MEMORY
    ),
    DISK: functools.partial(
        TorrentfsClient,
        extra_args=("--cache-size", CACHE_SIZE, "--storage", "disk"),
        name=DISK,
    ),
    "btfs": BtfsClient,
}


def run(cache: Path, work: Path, scenario: RunScenario) -> list[Result]:
    """One read of the big file per client, each on fresh unlimited default-settings seeders."""
    big = media.big_file(cache, PIECE_LENGTH)
    return [
        scenario(scenarios.big_read, make, big, work, "throughput", rate=0, tick_interval_ms=None)
        for make in CLIENTS.values()
    ]


def cache_sizes(cache: Path, work: Path, log: Callable[[str], None]) -> list[Result]:
    """The 512 MiB file read by memory mode at each cache size, on fresh seeders each."""
    half = media.big_file(cache, PIECE_LENGTH, CACHE_FILE_BYTES)
    rows = []
    for size in CACHE_SIZES:
        log(f"throughput: memory mode, --cache-size {size}")
        run_dir = work / f"cache-size-{size}"
        client = TorrentfsClient(run_dir, ("--cache-size", size), name=f"memory, {size}")
        with Swarm(half, run_dir, 0, tick_interval_ms=None) as swarm:
            client.start(swarm.torrent_path)
            try:
                client.wait_visible(half.root.name)
                baseline = private_memory_bytes(client.pid)
                cpu = cpu_seconds(client.pid)
                with PeakSampler(client.pid, client.ram_data_bytes, SAMPLE_S) as peak:
                    start = time.monotonic()
                    read = _read_through(client.location(half.root.name))
                    took = time.monotonic() - start
                cpu_s = cpu_seconds(client.pid) - cpu
                status = read_status(client.mountpoint)
            finally:
                client.stop()
        rows.append(
            {
                "client": client.name,
                "cache_size": size,
                "read_bytes": read,
                "read_s": took,
                "cpu_s_per_gib": cpu_s * (1 << 30) / read,
                "baseline_bytes": baseline,
                "peak_private_plus_data_bytes": peak.peak_total,
                "held_bytes": status.get("held_bytes", 0),
                "memory_bytes": status.get("memory_bytes", 0),
            }
        )
    return rows


def _read_through(path: str) -> int:
    """Read the file in 1 MiB reads, as `dd bs=1M` does; the bytes read."""
    read = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(media.MIB):
            read += len(chunk)
    return read


def rate_mb_s(result: Result) -> float:
    return float(result["read_bytes"] / result["read_s"]) / 1e6


def table(results: Sequence[Result]) -> str:
    rows = [
        ("read (MiB)", lambda r: f"{r['read_bytes'] / media.MIB:.0f}"),
        ("read time (s)", lambda r: seconds_text(r["read_s"])),
        ("rate (MB/s)", lambda r: f"{rate_mb_s(r):.0f}"),
        (
            "peak private memory + kept data (MiB)",
            lambda r: f"{r['peak_private_plus_data_bytes'] / media.MIB:.0f}",
        ),
    ]
    return figures_table(results, rows)


def targets(results: Sequence[Result]) -> list[tuple[str, str, bool]]:
    """Memory mode's rate against disk mode's, as a line of the targets table."""
    by_client = {r["client"]: r for r in results if "error" not in r}
    if MEMORY not in by_client or DISK not in by_client:
        return []
    share = rate_mb_s(by_client[MEMORY]) / rate_mb_s(by_client[DISK])
    label = f"memory mode reads a file twice the cache at {MEMORY_SHARE_TARGET:.0%} of disk mode"
    return [(label, f"{share:.0%}", share >= MEMORY_SHARE_TARGET)]
