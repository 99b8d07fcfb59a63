"""Two players on two torrents of one library mount, within one small cache.

The movie twice, as two torrents (its pieces cut at two sizes, so two
info-hashes), each with its own pair of default-settings seeders; a library
mount of both with `--cache-size 128M`; `ffmpeg -re` plays a minute of each
at once. Both should play in real time, and the mount's private memory plus
its RAM-held pieces should stay within what a single mount with that cache
takes on the 1 GiB read.
"""

import concurrent.futures
import os
import shutil
import time
from pathlib import Path

from torrentfs_tools.bench import media, report
from torrentfs_tools.bench.clients import TorrentfsClient
from torrentfs_tools.bench.measure import CommandResult, PeakSampler, run_measured
from torrentfs_tools.bench.scenarios import (
    PLAYBACK_SECONDS,
    PROBE_TIMEOUT_S,
    SAMPLE_INTERVAL_S,
    Result,
    player_commands,
)
from torrentfs_tools.bench.swarm import SEEDER_RATE_BYTES_S, Swarm
from torrentfs_tools.loopback import make_torrent

CACHE_SIZE = "128M"
FIRST_READ_BYTES = 64 << 10
# Real time, with the scenario's slack for a stall-free minute.
WALL_AT_MOST_S = 61.5
DESCRIPTION = (
    "The playback movie as two torrents (1 MiB and 512 KiB pieces), each from two seeders "
    f"with libtorrent's default settings at {SEEDER_RATE_BYTES_S / 1e6:g} MB/s each, in one "
    f"library mount with `--cache-size {CACHE_SIZE}`: the first 64 KiB of both (which starts "
    "each torrent), then `ffmpeg -re -t 60` on both at once. "
    "Peak memory: torrentfs's private memory plus its working files on tmpfs, sampled every "
    "100 ms; the bound is the single mount's on the 1 GiB read with the same cache."
)


def run(cache: Path, work: Path) -> Result:
    movie = media.movie(cache)
    second = media.BenchContent(movie.root, make_torrent(movie.root, media.MOVIE_PIECE_LENGTH // 2))
    watch = work / "players-watch"
    watch.mkdir()
    client = TorrentfsClient(work / "players-mount", ("--cache-size", CACHE_SIZE))
    with (
        Swarm(movie, _folder(work / "players-1"), SEEDER_RATE_BYTES_S, None) as first_swarm,
        Swarm(second, _folder(work / "players-2"), SEEDER_RATE_BYTES_S, None) as second_swarm,
    ):
        for number, swarm in enumerate((first_swarm, second_swarm), 1):
            shutil.copy(swarm.torrent_path, watch / f"{number}.torrent")
        client.start(watch)
        try:
            # Both named after the movie: the second folder gets " (2)".
            client.wait_visible(f"{movie.root.stem} (2){movie.root.suffix}/{movie.root.name}")
            files = [
                client.location(f"{folder}/{movie.root.name}")
                for folder in sorted(os.listdir(client.mountpoint))
            ]
            with (
                PeakSampler(client.pid, client.ram_data_bytes, SAMPLE_INTERVAL_S) as peak,
                concurrent.futures.ThreadPoolExecutor(len(files)) as pool,
            ):
                # Each torrent starts at its first read; timed apart from playback.
                starts = list(pool.map(_first_read_s, files))
                plays = list(pool.map(_play, files))
        finally:
            client.stop()
    return {
        "client": client.name,
        "first_read_s": starts,
        "walls_s": [play.seconds for play in plays],
        "ok": all(play.returncode == 0 for play in plays),
        "peak_private_plus_data_bytes": peak.peak_total,
    }


def table(result: Result | None) -> str:
    return report.torrentfs_table(result, _rows)


def _rows(result: Result) -> list[tuple[str, str]]:
    walls = ", ".join(f"{wall:.2f}" for wall in result["walls_s"])
    starts = ", ".join(f"{start:.2f}" for start in result["first_read_s"])
    peak_mib = result["peak_private_plus_data_bytes"] / media.MIB
    return [
        ("first 64 KiB of each, both at once (s)", starts),
        ("then 60 s of playback on each, wall (s)", walls),
        ("both players succeeded", "yes" if result["ok"] else "NO"),
        ("peak private memory + kept data (MiB)", f"{peak_mib:.0f}"),
    ]


def targets(result: Result | None, single_mount_peak: int | None) -> list[tuple[str, str, bool]]:
    """Both in real time; memory within the single mount's on the 1 GiB read, if measured."""
    if result is None or "error" in result:
        return []
    walls = result["walls_s"]
    checks = [
        (
            f"library: two players at once, each under {WALL_AT_MOST_S:g} s",
            ", ".join(f"{wall:.2f}" for wall in walls),
            result["ok"] and max(walls) <= WALL_AT_MOST_S,
        )
    ]
    if single_mount_peak:
        peak = result["peak_private_plus_data_bytes"]
        checks.append(
            (
                f"library: two players' peak memory within a single mount's "
                f"({single_mount_peak / media.MIB:.0f} MiB)",
                f"{peak / media.MIB:.0f}",
                peak <= single_mount_peak,
            )
        )
    return checks


def _first_read_s(location: str) -> float:
    start = time.monotonic()
    with open(location, "rb", buffering=0) as handle:
        handle.read(FIRST_READ_BYTES)
    return time.monotonic() - start


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _play(location: str) -> CommandResult:
    return run_measured(player_commands(location)["play"], PLAYBACK_SECONDS + PROBE_TIMEOUT_S)
