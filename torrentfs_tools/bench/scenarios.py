"""What the benchmark does with each client, the way a user would feel it."""

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torrentfs_tools.bench.clients import BtfsClient, Client, FuseClient
from torrentfs_tools.bench.measure import (
    PeakSampler,
    drop_page_cache,
    peak_rss_bytes,
    read_throughput,
    run_measured,
)
from torrentfs_tools.bench.media import BenchContent
from torrentfs_tools.bench.swarm import Swarm

FIRST_READ_BYTES = 64 << 10
SEEK_SECONDS = 60
PLAYBACK_SECONDS = 60
PROBE_TIMEOUT_S = 120.0
SMALL_FILES_WALK_LIMIT_S = 20.0
SCAN_LIMIT_S = 30.0
# A media server gives up on a file that takes this long to probe.
SCAN_PROBE_TIMEOUT_S = 30.0
SAMPLE_INTERVAL_S = 0.1
# torrentfs reads the 1 GiB file in about a minute; btfs took three, keeping
# all it read on disk either way, so its read stops here to keep the bench short.
BIG_READ_LIMIT_S = 50.0
READ_CHUNK_BYTES = 128 << 10
# Pause after playback, and the 30 s within it that measure what an idle
# client fetches: they begin once torrentfs's default 20 s idle timeout and a
# few seconds for blocks already on their way have passed.
PAUSE_S = 60.0
IDLE_WINDOW_START_S = 25.0
IDLE_WINDOW_S = 30.0
# Where the read after a pause goes: far past anything playback fetched.
RESUME_READ_AT = 0.9
# Longer than the --idle-disconnect the full-pause run is given.
DISCONNECTED_QUIET_S = 15.0

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
        walked, seconds = read_in_order(paths, SMALL_FILES_WALK_LIMIT_S)
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


def read_in_order(
    paths: list[Path], limit_s: float, chunk_bytes: int = READ_CHUNK_BYTES
) -> tuple[tuple[int, int], float]:
    """(files, bytes) read in order, `chunk_bytes` at a time, until done or `limit_s`
    passed, and the seconds it took."""
    start = time.monotonic()
    files = total = 0
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while chunk := handle.read(chunk_bytes):
                total += len(chunk)
                if time.monotonic() - start > limit_s:
                    return (files, total), time.monotonic() - start
        files += 1
    return (files, total), time.monotonic() - start


def big_read(client: FuseClient, swarm: Swarm, big: BenchContent) -> Result:
    """Read 1 GiB through the mount, for at most `BIG_READ_LIMIT_S`: peak memory, data kept."""
    with _running(client, swarm, big.root.name) as location:
        with PeakSampler(client.pid, client.data_bytes, SAMPLE_INTERVAL_S) as peak:
            (_, read), seconds = read_in_order([Path(location)], BIG_READ_LIMIT_S)
        return {
            "client": client.name,
            "file_bytes": big.size,
            "read_bytes": read,
            "read_s": seconds,
            "peak_private_plus_data_bytes": peak.peak_total,
            "peak_data_bytes": peak.peak_data,
        }


def pause_and_resume(client: FuseClient, swarm: Swarm, movie: BenchContent) -> Result:
    """Real-time playback, a pause as long, then one read: bytes fetched in each, and memory."""
    with _running(client, swarm, movie.root.name) as location:
        with PeakSampler(client.pid, client.ram_data_bytes, SAMPLE_INTERVAL_S) as peak:
            before_play = swarm.uploaded_bytes()
            play = run_measured(
                player_commands(location)["play"], PLAYBACK_SECONDS + PROBE_TIMEOUT_S
            )
            after_play = swarm.uploaded_bytes()
            time.sleep(IDLE_WINDOW_START_S)
            window_start = swarm.uploaded_bytes()
            time.sleep(IDLE_WINDOW_S)
            window_end = swarm.uploaded_bytes()
            time.sleep(PAUSE_S - IDLE_WINDOW_START_S - IDLE_WINDOW_S)
            after_pause = swarm.uploaded_bytes()
            resume_s = _timed_read(client, location, int(movie.size * RESUME_READ_AT))
        return {
            "client": client.name,
            "playback_ok": play.returncode == 0,
            "playback_fetched_bytes": after_play - before_play,
            "pause_fetched_bytes": after_pause - after_play,
            "idle_window_fetched_bytes": window_end - window_start,
            "resume_read_s": resume_s,
            "disk_bytes": client.disk_data_bytes(),
            "peak_memory_bytes": peak.peak_total,
        }


def resume_after_disconnect(client: FuseClient, swarm: Swarm, movie: BenchContent) -> Result:
    """One read, a quiet long enough for the client's full pause, then a timed read."""
    with _running(client, swarm, movie.root.name) as location:
        client.read(location, 0, FIRST_READ_BYTES)
        time.sleep(DISCONNECTED_QUIET_S)
        return {
            "client": client.name,
            "resume_read_s": _timed_read(client, location, int(movie.size * RESUME_READ_AT)),
        }


@contextlib.contextmanager
def _running(client: Client, swarm: Swarm, relative: str) -> Iterator[str]:
    """`client` started on the swarm's torrent until the block ends; the file's location."""
    client.start(swarm.torrent_path)
    try:
        client.wait_visible(relative)
        yield client.location(relative)
    finally:
        client.stop()


def _timed_read(client: Client, location: str, offset: int) -> float:
    start = time.monotonic()
    client.read(location, offset, FIRST_READ_BYTES)
    return time.monotonic() - start
