"""What the benchmark does with each client, the way a user would feel it."""

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from torrentfs.bench.clients import BtfsClient, Client, FuseClient
from torrentfs.bench.content import BenchContent
from torrentfs.bench.measure import (
    drop_page_cache,
    peak_rss_bytes,
    private_memory_bytes,
    read_throughput,
    run_measured,
)
from torrentfs.bench.swarm import Swarm

FIRST_READ_BYTES = 64 << 10
SEEK_SECONDS = 60
PLAYBACK_SECONDS = 60
PROBE_TIMEOUT_S = 120.0
SMALL_FILES_WALK_LIMIT_S = 30.0
SCAN_LIMIT_S = 40.0
# A media server gives up on a file that takes this long to probe.
SCAN_PROBE_TIMEOUT_S = 30.0
SAMPLE_INTERVAL_S = 0.1
# torrentfs reads the 1 GiB file in about a minute; btfs took three, keeping
# all it read on disk either way, so its read stops here to keep the bench short.
BIG_READ_LIMIT_S = 75.0
READ_CHUNK_BYTES = 128 << 10

Result = dict[str, Any]


def player_commands(location: str) -> dict[str, list[str]]:
    """What the players run against the movie: probe, one frame at 60 s, 60 s of playback."""
    return {
        "ffprobe": ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                    "csv=p=0", location],
        "seek": ["ffmpeg", "-v", "error", "-ss", str(SEEK_SECONDS), "-i", location,
                 "-frames:v", "1", "-f", "null", "-"],
        "play": ["ffmpeg", "-v", "error", "-re", "-i", location, "-t", str(PLAYBACK_SECONDS),
                 "-f", "null", "-"],
    }  # fmt: skip


def reference_read_bytes(movie: BenchContent) -> int:
    """Bytes the players read from the movie, measured on the original file.

    The same for every client, and measurable even where the client serves
    HTTP (`rchar` does not count socket reads).
    """
    total = FIRST_READ_BYTES
    for command in player_commands(str(movie.root)).values():
        # Without -re the same bytes are read, without waiting a minute.
        fast = [arg for arg in command if arg != "-re"]
        total += run_measured(fast, PLAYBACK_SECONDS + PROBE_TIMEOUT_S).bytes_read
    return total


def playback(client: Client, swarm: Swarm, movie: BenchContent, players_read_bytes: int) -> Result:
    """Open, probe, seek and play the movie: what a player does."""
    name = movie.root.name
    client.start(swarm.torrent_path)
    try:
        visible_s = client.wait_visible(name)
        location = client.location(name)
        start = time.monotonic()
        client.read(location, 0, FIRST_READ_BYTES)
        first_read_s = time.monotonic() - start
        commands = player_commands(location)
        probe = run_measured(commands["ffprobe"], PROBE_TIMEOUT_S)
        seek = run_measured(commands["seek"], PROBE_TIMEOUT_S)
        play = run_measured(commands["play"], PLAYBACK_SECONDS + PROBE_TIMEOUT_S)
        result: Result = {
            "client": client.name,
            "visible_s": visible_s,
            "first_64k_s": first_read_s,
            "ffprobe_s": probe.seconds,
            "seek_60s_frame_s": seek.seconds,
            "playback_60s_wall_s": play.seconds,
            "players_ok": probe.returncode == seek.returncode == play.returncode == 0,
            "players_read_bytes": players_read_bytes,
            "seeders_uploaded_bytes": swarm.uploaded_bytes(),
            "movie_bytes": movie.size,
            "peak_rss_bytes": peak_rss_bytes(client.pid),
        }
        if isinstance(client, BtfsClient):
            result["disk_bytes"] = client.data_bytes()
        return result
    finally:
        client.stop()


def library_scan(client: FuseClient, swarm: Swarm, library: BenchContent) -> Result:
    """ffprobe every video of a folder one after another, as a media server does."""
    client.start(swarm.torrent_path)
    try:
        videos = sorted(p.relative_to(library.root) for p in library.root.rglob("*.mp4"))
        client.wait_visible(str(videos[0]))
        start = time.monotonic()
        failures = probed = 0
        for video in videos:
            try:
                probe = run_measured(
                    player_commands(client.location(str(video)))["ffprobe"], SCAN_PROBE_TIMEOUT_S
                )
                failures += probe.returncode != 0
            except TimeoutError:
                failures += 1
            probed += 1
            if time.monotonic() - start > SCAN_LIMIT_S:
                break
        seconds = time.monotonic() - start
        return {
            "client": client.name,
            "videos": len(videos),
            "videos_probed": probed,
            "probe_failures": failures,
            "scan_s": seconds,
            "seeders_uploaded_bytes": swarm.uploaded_bytes(),
            "torrent_bytes": library.size,
        }
    finally:
        client.stop()


def small_files_walk(client: FuseClient, swarm: Swarm, tree: BenchContent) -> Result:
    """Read every file in path order (as `cat` does), then again from the cache."""
    client.start(swarm.torrent_path)
    try:
        relative = sorted(p.relative_to(tree.root) for p in tree.root.rglob("*") if p.is_file())
        client.wait_visible(str(relative[0]))
        paths = [Path(client.location(str(r))) for r in relative]
        walked, seconds = _walk(paths, SMALL_FILES_WALK_LIMIT_S)
        result: Result = {
            "client": client.name,
            "files": len(paths),
            "files_read": walked[0],
            "bytes_read": walked[1],
            "walk_mb_s": walked[1] / seconds / 1e6,
            "swarm_mb_s": swarm.rate_bytes_s / 1e6,
        }
        # The files read, again, now that they are fetched.
        result["cached_walk_mb_s"] = read_throughput(paths[: walked[0]]) / 1e6
        return result
    finally:
        client.stop()


def cached_read(client: FuseClient, swarm: Swarm, movie: BenchContent) -> Result:
    """Throughput of reading the whole movie once it is all fetched."""
    client.start(swarm.torrent_path)
    try:
        client.wait_visible(movie.root.name)
        path = Path(client.location(movie.root.name))
        read_throughput([path])  # fetches everything
        drop_page_cache(path)
        from_client = read_throughput([path])
        from_page_cache = read_throughput([path])
        return {
            "client": client.name,
            "first_read_from_client_mb_s": from_client / 1e6,
            "reread_page_cache_mb_s": from_page_cache / 1e6,
        }
    finally:
        client.stop()


def _walk(paths: list[Path], limit_s: float) -> tuple[tuple[int, int], float]:
    """(files, bytes) read in order until done or `limit_s` passed, and the seconds it took."""
    start = time.monotonic()
    files = total = 0
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while chunk := handle.read(READ_CHUNK_BYTES):
                total += len(chunk)
                if time.monotonic() - start > limit_s:
                    return (files, total), time.monotonic() - start
        files += 1
    return (files, total), time.monotonic() - start


def big_read(client: FuseClient, swarm: Swarm, big: BenchContent) -> Result:
    """Read 1 GiB through the mount, for at most `BIG_READ_LIMIT_S`: peak memory, data kept."""
    client.start(swarm.torrent_path)
    try:
        client.wait_visible(big.root.name)
        peak = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(SAMPLE_INTERVAL_S):
                with contextlib.suppress(OSError):
                    private, data = private_memory_bytes(client.pid), client.data_bytes()
                    peak[0] = max(peak[0], private + data)
                    peak[1] = max(peak[1], data)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        (_, read), seconds = _walk([Path(client.location(big.root.name))], BIG_READ_LIMIT_S)
        done.set()
        sampler.join()
        return {
            "client": client.name,
            "file_bytes": big.size,
            "read_bytes": read,
            "read_s": seconds,
            "peak_private_plus_data_bytes": peak[0],
            "peak_data_bytes": peak[1],
        }
    finally:
        client.stop()
