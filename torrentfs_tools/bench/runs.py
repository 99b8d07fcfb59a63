"""The benchmark's runs: one client in a fresh swarm per scenario, and the groups of runs
that share a set-up (players, the 1 GiB read, the pause modes)."""

import concurrent.futures
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from torrentfs_tools.bench import media, players, scenarios
from torrentfs_tools.bench.clients import BtfsClient, Client, TorrentfsClient
from torrentfs_tools.bench.measure import read_throughput
from torrentfs_tools.bench.swarm import PAUSE_SEEDER_RATE_BYTES_S, SEEDER_RATE_BYTES_S, Swarm
from torrentfs_tools.loopback import SEEDER_TICK_INTERVAL_MS

BIG_READ_CACHE = "128M"
DEFAULT_MODE = "torrentfs: memory storage, idle pause on (the default)"
PAUSE_MODES: dict[str, Callable[[Path], Client]] = {
    "torrentfs: disk storage, download all (a plain client)": functools.partial(
        TorrentfsClient,
        extra_args=("--storage", "disk", "--download-all", "--download-all-while-idle"),
        name="torrentfs disk, all",
    ),
    "torrentfs: memory storage, idle pause off": functools.partial(
        TorrentfsClient, extra_args=("--idle-timeout", "0"), name="torrentfs no idle"
    ),
    DEFAULT_MODE: TorrentfsClient,
    "btfs": BtfsClient,
}
IDLE_COMPARED = (DEFAULT_MODE, "btfs")
FULL_PAUSE_CLIENT = functools.partial(
    TorrentfsClient, extra_args=("--idle-timeout", "5s", "--idle-disconnect", "10s")
)


def scenario(
    run: Callable[..., scenarios.Result],
    make: Callable[[Path], Client],
    bench_content: media.BenchContent,
    work: Path,
    label: str,
    rate: int = SEEDER_RATE_BYTES_S,
    tick_interval_ms: int | None = SEEDER_TICK_INTERVAL_MS,
) -> scenarios.Result:
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=work))
    client = make(run_dir)
    log(f"{label}: {client.name}")
    try:
        with Swarm(bench_content, run_dir, rate, tick_interval_ms) as swarm:
            return run(client, swarm, bench_content)
    except Exception as error:  # one client failing must not lose the others' figures
        log(f"{label}: {client.name} failed: {error!r}")
        return {"client": client.name, "error": repr(error)}


def guarded(run: Callable[..., scenarios.Result], *args: object) -> scenarios.Result:
    """`run(*args)`, or its error as the result: one failing run must not lose the others."""
    try:
        return run(*args)
    except Exception as error:
        log(f"{getattr(run, '__module__', run)} failed: {error!r}")
        return {"client": "torrentfs", "error": repr(error)}


def guarded_rows(
    run: Callable[..., list[scenarios.Result]], *args: object
) -> list[scenarios.Result]:
    """`run(*args)`, or no rows if it failed (logged): the rest of the bench goes on."""
    try:
        return run(*args)
    except Exception as error:
        log(f"{getattr(run, '__name__', run)} failed: {error!r}")
        return []


def single_mount_peak(big_reads: list[scenarios.Result]) -> int | None:
    """torrentfs's peak private memory + kept data on the 1 GiB read, if it ran."""
    for result in big_reads:
        if result.get("client") == "torrentfs" and "peak_private_plus_data_bytes" in result:
            return int(result["peak_private_plus_data_bytes"])
    return None


def player_runs(
    movie: media.BenchContent, library: media.BenchContent, work: Path
) -> list[scenarios.Result]:
    """mpv, VLC and minidlna on torrentfs and btfs, each on fresh default-settings seeders."""
    clients: dict[str, Callable[[Path], Client]] = {
        "torrentfs": functools.partial(TorrentfsClient, extra_args=("--allow-other",)),
        "btfs": functools.partial(BtfsClient, extra_args=("-o", "allow_other")),
    }
    results = []
    for name, make in clients.items():
        result: scenarios.Result = {"client": name}
        for run, bench_content in (
            (players.mpv_session, movie),
            (players.vlc_play, movie),
            (players.minidlna_scan, library),
        ):
            outcome = scenario(run, make, bench_content, work, "players", tick_interval_ms=None)
            result.update({k: v for k, v in outcome.items() if k != "error"})
            if "error" in outcome:
                result.setdefault("errors", []).append(outcome["error"])
        results.append(result)
    return results


def big_reads(cache: Path, work: Path) -> list[scenarios.Result]:
    big = media.big_file(cache)
    budgeted = functools.partial(TorrentfsClient, extra_args=("--cache-size", BIG_READ_CACHE))
    return [
        scenario(scenarios.big_read, make, big, work, "memory", rate=0)
        for make in (budgeted, BtfsClient)
    ]


def pause_runs(movie: media.BenchContent, work: Path) -> list[scenarios.Result]:
    """Every mode's pause run and the full-pause run side by side: they take minutes each."""
    rate = PAUSE_SEEDER_RATE_BYTES_S
    modes = {
        label: functools.partial(
            scenario, scenarios.pause_and_resume, make, movie, work, "idle", rate
        )
        for label, make in PAUSE_MODES.items()
    }
    disconnect = functools.partial(
        scenario, scenarios.resume_after_disconnect, FULL_PAUSE_CLIENT, movie, work, "idle", rate
    )
    with concurrent.futures.ThreadPoolExecutor(len(modes) + 1) as pool:
        futures = {label: pool.submit(run) for label, run in modes.items()}
        full_pause = pool.submit(disconnect).result()
        results = [{"mode": label, **future.result()} for label, future in futures.items()]
    for result in results:
        if result["client"] == "torrentfs" and "resume_read_s" in full_pause:
            result["resume_after_disconnect_s"] = full_pause["resume_read_s"]
    return results


def tmpfs_throughput(path: Path) -> float:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        copy = Path(shm) / path.name
        shutil.copyfile(path, copy)
        read_throughput([copy])
        return max(read_throughput([copy]) for _ in range(2)) / 1e6


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
