"""`python -m torrentfs_tools.bench`: the benchmark, in a fresh loopback-only network namespace."""

import argparse
import concurrent.futures
import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from torrentfs.core.config import DEFAULT_READAHEAD_S
from torrentfs_tools.bench import (
    dlna,
    download_client,
    http_face,
    library_growth,
    library_mount,
    library_players,
    library_scan,
    media,
    players,
    report,
    runs,
    scenarios,
    seeders,
    soak,
    targets,
    throughput,
)
from torrentfs_tools.bench.clients import BtfsClient, Client, TorrentfsClient, WebtorrentClient
from torrentfs_tools.bench.swarm import PAUSE_SEEDER_RATE_BYTES_S, SEEDER_RATE_BYTES_S
from torrentfs_tools.foreign import WEBTORRENT

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torrentfs-bench"
DOCS = Path("docs/benchmarks.md")
NETNS_PREFIX = "torrentfs-bench-"
SECTIONS = (
    "seeders",
    "players",
    "playback",
    "scan",
    "walk",
    "cached",
    "memory",
    "throughput",
    "library",
    "growth",
    "http",
    "arr",
    "idle",
    "dlna",
    "soak",
)
MOVIE_PIECE = 1 << 20
SWARM_NOTE = (
    "Swarm: two libtorrent seeders on 127.0.0.2 and 127.0.0.3, each limited to "
    f"{SEEDER_RATE_BYTES_S / 1e6:g} MB/s ({2 * SEEDER_RATE_BYTES_S * 8 / 1e6:g} Mbit/s in all), "
    "found through a tracker on 127.0.0.1 named in the .torrent; every client runs on "
    "127.0.0.1 inside a network namespace that has only `lo`, one client at a time, each with "
    "fresh seeders. torrentfs runs with its defaults (memory storage, 256 MiB cache, 30 s "
    "read-ahead). The seeders hand out bandwidth every 50 ms: libtorrent's default 500 ms tick "
    "holds every handshake step of a rate-limited peer half a second, which no real link does."
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m torrentfs_tools.bench", description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="content cache folder")
    parser.add_argument("--output", type=Path, default=DOCS, help="markdown report to write")
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run just this part (repeatable); the report file is then left alone",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inside:
        return _in_fresh_namespace(sys.argv[1:])
    _run(args.cache, None if args.only else args.output, set(args.only or SECTIONS))
    return 0


def _in_fresh_namespace(argv: list[str]) -> int:
    """Run this module again inside a new network namespace with only `lo` up."""
    name = f"{NETNS_PREFIX}{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        command = [sys.executable, "-m", "torrentfs_tools.bench", "--inside", *argv]
        return subprocess.run(["ip", "netns", "exec", name, *command], check=False).returncode
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _run(cache: Path, output: Path | None, only: set[str]) -> None:
    runs.log("making content (cached after the first run)")
    # The movie's encode runs beside the library's: each uses about one core.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        making_movie = pool.submit(media.movie, cache)
        library = media.library(cache)
        tree = media.small_files(cache)
        movie = making_movie.result()
    clients: list[Callable[[Path], Client]] = [TorrentfsClient, BtfsClient]
    if WEBTORRENT.exists():
        clients.append(lambda run_dir: WebtorrentClient(run_dir, WEBTORRENT.resolve()))
    fuse_clients = (TorrentfsClient, BtfsClient)

    with tempfile.TemporaryDirectory(prefix="torrentfs-bench-") as temp:
        work = Path(temp)
        players_read = scenarios.reference_read_bytes(movie) if "playback" in only else 0
        playback = [
            runs.scenario(
                functools.partial(scenarios.playback, players_read_bytes=players_read),
                make,
                movie,
                work,
                "playback",
            )
            for make in clients
            if "playback" in only
        ]
        scans = [
            runs.scenario(scenarios.library_scan, make, library, work, "scan")
            for make in fuse_clients
            if "scan" in only
        ]
        walks = [
            runs.scenario(scenarios.small_files_walk, make, tree, work, "walk")
            for make in fuse_clients
            if "walk" in only
        ]
        cached = [
            runs.scenario(scenarios.cached_read, make, movie, work, "cached", rate=0)
            for make in fuse_clients
            if "cached" in only
        ]
        # The pause runs mostly wait; they share the minute of the 1 GiB reads.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            memory = pool.submit(runs.big_reads, cache, work) if "memory" in only else None
            pauses = runs.pause_runs(movie, work) if "idle" in only else []
            big_reads = memory.result() if memory is not None else []
        rates = throughput.run(cache, work, runs.scenario) if "throughput" in only else []
        cache_rates = (
            runs.guarded_rows(throughput.cache_sizes, cache, work, runs.log)
            if "throughput" in only
            else []
        )
        shelf = (
            runs.guarded(library_mount.run, cache, work, runs.log) if "library" in only else None
        )
        duet = runs.guarded(library_players.run, cache, work) if "library" in only else None
        served = runs.guarded(library_scan.run, cache, work, library) if "library" in only else None
        growth = "growth" in only
        sizes = (
            runs.guarded_rows(library_growth.library_sizes, cache, work, runs.log) if growth else []
        )
        magnets = (
            runs.guarded(library_growth.magnets_at_once, cache, work, runs.log) if growth else None
        )
        preloads = (
            runs.guarded_rows(library_growth.preload_comparison, cache, work, runs.log)
            if growth
            else []
        )
        web = "http" in only
        if web:
            runs.log("http: sequential, start, load, page")
        http_seq = runs.guarded_rows(http_face.sequential, cache, work) if web else []
        http_starts = runs.guarded_rows(http_face.start_up, cache, work) if web else []
        http_load = runs.guarded(http_face.load, cache, work) if web else None
        http_page = runs.guarded(http_face.page, cache, work) if web else None
        tv = "dlna" in only
        if tv:
            runs.log("dlna: discovery, a library browsed, the movie played")
            dlna.multicast_on_loopback()
        dlna_found = runs.guarded(dlna.library, cache, work) if tv else None
        dlna_start = runs.guarded(dlna.start_up, cache, work) if tv else None
        http_start = next((row for row in http_starts if row["face"] == "http"), None)
        arr = "arr" in only
        if arr:
            runs.log("arr: add, import, listing through the qBittorrent API")
        arr_added = runs.guarded(download_client.add_and_import, cache, work) if arr else None
        arr_listed = runs.guarded(download_client.listing, cache, work) if arr else None
        tmpfs_mb_s = runs.tmpfs_throughput(movie.root)
        seeder_mix = seeders.run_all(cache, work, runs.log) if "seeders" in only else []
        player_runs = runs.player_runs(movie, library, work) if "players" in only else []
        soaks = soak.run(cache, work, runs.log) if "soak" in only else []

    window_bytes = DEFAULT_READAHEAD_S * movie.size / media.MOVIE_SECONDS
    sections = [
        (
            "Seeder mix: the clients people seed with",
            f"One {seeders.FILE_BYTES / 1e6:.0f} MB file in "
            f"{seeders.PIECE_LENGTH >> 10} KiB pieces, seeded by one seeder of each kind, "
            f"capped at {seeders.RATE_BYTES_S / 1e6:g} MB/s by its own setting, each on its "
            "own loopback address and found through the magnet's `x.pe`: libtorrent with its "
            "default settings (500 ms tick, uTP on: qBittorrent, Deluge), aria2 1.36, rtorrent "
            "0.9.8 (headless), Transmission 3.00 (daemon) and webtorrent-cli 4. Each client "
            "gets a fresh seeder. The plain client is a libtorrent session with default "
            "settings downloading the whole file (times from adding the magnet); torrentfs and "
            "btfs mount the magnet and a reader reads the file from start to end, checking "
            "every byte (times from starting the process; the rate is the whole read after "
            "the first 64 KiB).",
            report.seeders_table(seeder_mix, seeders.RATE_BYTES_S),
        ),
        (
            "Players and a media server",
            "The playback movie from two seeders with libtorrent's default settings (500 ms "
            f"tick), {SEEDER_RATE_BYTES_S / 1e6:g} MB/s each; both FUSE clients mount with "
            "`allow_other`. mpv 0.35 (`--vo=null --ao=null`, its demuxer cache set to "
            f"{players.MPV_CACHE} so that the movie is larger than it) over its JSON IPC: "
            "the first frame (`playback-restart`), then seeks to "
            f"{', '.join(f'{s} s' for s in players.SEEKS_S)} each timed until playback "
            f"restarts ({players.PLAY_BETWEEN_S:g} s of play between), then a "
            f"{players.PAUSE_S:.0f} s pause and what the seeders sent during it. VLC 3 "
            f"(`cvlc`) as user `{players.VLC_USER}`: opening the movie and playing its first "
            f"second. minidlna as user `{players.MINIDLNA_USER}` scanning the 20-video "
            "library: time until every video's duration is in its database, and the share "
            "of the torrent fetched.",
            report.players_table(player_runs, players.MPV_CACHE_BYTES + window_bytes),
        ),
        (
            "Playback: open, probe, seek, play",
            "A 2-minute 720p H.264/AAC MP4 of 116 MB, `moov` at the end, 1 MiB pieces. In order: "
            "time until the file can be opened, the first 64 KiB, `ffprobe`, `ffmpeg -ss 60 -i "
            "FILE -frames:v 1 -f null -`, and `ffmpeg -re -i FILE -t 60 -f null -` (60 s means "
            "no stall). Bytes the players read (measured once, running the same commands on the "
            "original file) against bytes the seeders uploaded by the end of playback; peak "
            "RSS is the client's VmHWM.",
            report.playback_table(playback),
        ),
        (
            "Media-server library scan",
            f"`ffprobe` every video of a {library.size / 1e6:.0f} MB torrent of 20 videos "
            "(40 s each, 6 Mbit/s, `moov` at the end in half of them), one after another, "
            "as Jellyfin or Plex do when a folder appears; a client still probing after "
            f"{scenarios.SCAN_LIMIT_S:.0f} s stops after the current video, and a probe "
            f"taking over {scenarios.SCAN_PROBE_TIMEOUT_S:.0f} s counts as a failure.",
            report.scan_table(scans),
        ),
        (
            "Sequential small files",
            f"Read all 5 000 files (4-64 KiB, {tree.size / 1e6:.0f} MB) in path order, "
            f"within {scenarios.SMALL_FILES_WALK_LIMIT_S:.0f} s; then the files read, again, "
            "with `cat`.",
            report.walk_table(walks),
        ),
        (
            "Reading fetched data",
            "The movie with unlimited seeders: read once to fetch it all, then the kernel's "
            "cached pages dropped and read again (served by the client), then read again (the "
            "kernel's page cache).",
            report.cached_table(cached, tmpfs_mb_s),
        ),
        (
            "Memory and disk on a 1 GiB read",
            f"A 1 GiB file read from start to end with unlimited seeders, stopped after "
            f"{scenarios.BIG_READ_LIMIT_S:.0f} s; torrentfs with "
            f"its default memory storage and `--cache-size {runs.BIG_READ_CACHE}`. Sampled every "
            "100 ms: the client's private memory (RssAnon) plus the torrent data it keeps "
            "outside it (torrentfs: its working files on tmpfs; btfs: its files on disk). It "
            "runs beside the pause runs below (four players and their seeders), so how much it "
            "reads in that time follows the machine's load; `--only memory` runs it alone.",
            report.big_read_table(big_reads),
        ),
        (
            "Sequential read by storage mode",
            throughput.DESCRIPTION,
            throughput.table(rates) + "\n\n" + throughput.cache_table(cache_rates),
        ),
        (
            "A library of a thousand torrents",
            library_mount.DESCRIPTION,
            library_mount.table(shelf),
        ),
        ("Two players in one library", library_players.DESCRIPTION, library_players.table(duet)),
        ("minidlna on a library", library_scan.DESCRIPTION, library_scan.table(served)),
        (
            "Libraries of ten thousand, and a hundred magnets at once",
            library_growth.DESCRIPTION,
            library_growth.sizes_table(sizes) + "\n\n" + library_growth.magnets_table(magnets),
        ),
        (
            "HTTP beside the mount",
            http_face.DESCRIPTION,
            http_face.tables(http_seq, http_starts, http_load, http_page),
        ),
        (
            "DLNA: a TV finds, browses and plays",
            dlna.DESCRIPTION,
            dlna.table(dlna_found, dlna_start, http_start),
        ),
        (
            "Sonarr and Radarr: the qBittorrent API",
            download_client.DESCRIPTION,
            download_client.table(arr_added, arr_listed),
        ),
        (
            "A single mount's head preload",
            library_growth.PRELOAD_DESCRIPTION,
            library_growth.preload_table(preloads),
        ),
    ]
    sections += [
        (
            "Network usage by mode",
            "60 s of real-time playback (`ffmpeg -re`), then 60 s with no reads, as when the "
            "user pauses; each mode on fresh seeders, the four side by side, each seeder "
            f"limited to {PAUSE_SEEDER_RATE_BYTES_S / 1e6:g} MB/s: the two together send about "
            "the movie's bitrate, so the rest of the movie is still to come when playback "
            "stops. Disk used at "
            "the end; peak memory is the client's private memory plus torrent data it keeps "
            "on tmpfs, sampled every 100 ms. A plain client is torrentfs with "
            "`--storage disk --download-all --download-all-while-idle`.",
            report.network_by_mode_table(pauses),
        ),
        (
            "Idle and resume",
            "From the same runs (the slower seeders): what the client fetched during 30 s of "
            "the pause that begin "
            "25 s after playback stopped (torrentfs goes idle after 20 s), and how long a "
            "64 KiB read at 90% of the movie took after the 60 s pause. A full pause is "
            "torrentfs with `--idle-timeout 5s --idle-disconnect 10s`: one read, 15 s of "
            "quiet, then the same read.",
            report.idle_table([r for r in pauses if r["mode"] in runs.IDLE_COMPARED], MOVIE_PIECE),
        ),
    ]
    sections.append(("A month in twenty minutes: the soak", soak.DESCRIPTION, soak.table(soaks)))
    sections.insert(
        0,
        (
            "torrentfs against its targets",
            "The read-ahead window in the over-download target is 30 s of the movie's bitrate, "
            "the default `--readahead`. Cached reads count the kernel's page cache, which "
            "`keep_cache` lets torrentfs use; the first read of fetched data is in the last "
            "table.",
            targets.targets(
                playback,
                scans,
                walks,
                cached,
                pauses,
                tmpfs_mb_s,
                window_bytes,
                MOVIE_PIECE,
                targets.real_peer_checks(
                    seeder_mix,
                    player_runs,
                    playback,
                    seeders.RATE_BYTES_S,
                    players.MPV_CACHE_BYTES + window_bytes,
                )
                + throughput.targets(rates)
                + throughput.cache_targets(cache_rates)
                + library_mount.targets(shelf)
                + library_players.targets(duet, runs.single_mount_peak(big_reads))
                + library_scan.targets(served)
                + library_growth.targets(sizes, magnets)
                + http_face.targets(http_seq, http_starts, http_load, http_page)
                + dlna.targets(dlna_found, dlna_start, http_start)
                + download_client.targets(arr_added, arr_listed)
                + soak.targets(soaks),
            ),
        ),
    )
    for result in (
        *seeder_mix,
        *player_runs,
        *playback,
        *scans,
        *walks,
        *cached,
        *big_reads,
        *rates,
        *pauses,
    ):
        print(json.dumps(result))
    for title, _, table in sections:
        print(f"\n{title}\n{table}")
    if output is not None:
        output.write_text(report.markdown(sections, SWARM_NOTE))
        runs.log(f"wrote {output}")


if __name__ == "__main__":
    raise SystemExit(main())
