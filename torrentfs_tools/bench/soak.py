"""The soak: months of a household's server squeezed into minutes, once per storage mode.

`torrentfs_tools.soak` runs the load; this module sets its length and size, and turns
its samples into the report's table and targets.
"""

import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from torrentfs.core.units import parse_size
from torrentfs_tools.bench import media, report
from torrentfs_tools.bench.scenarios import Result
from torrentfs_tools.soak import Sample, SoakOutcome, SoakPlan, soak

LOAD_S = 660.0
WARM_UP_S = 60.0
WINDOW_S = 300.0
PLANS = tuple(
    SoakPlan(
        storage=storage,
        load_s=LOAD_S,
        sample_s=10.0,
        tiny_count=1000,
        http_clients=10,
        cache_size="256M",
        seeder_away_every_s=120.0,
        seeder_away_for_s=15.0,
        kill_load_s=30.0,
    )
    for storage in ("disk", "memory")
)
# Targets (issue 27).
FLAT_WITHIN = 0.05
UP_WITHIN_S = 5.0
MIB = 1 << 20

DESCRIPTION = (
    f"A library of the playback movie and {PLANS[0].tiny_count} tiny torrents (1 KiB each), "
    "one libtorrent seeder with its default settings seeding them all, unthrottled; "
    f"`--cache-size {PLANS[0].cache_size}`, once in disk mode and once in memory mode, "
    f"{LOAD_S / 60:.0f} minutes each. At once: two FUSE readers reading 64 KiB at random "
    f"offsets, {PLANS[0].http_clients} HTTP clients asking for a range and dropping the "
    "connection after a random part of the body, a qBittorrent-API client adding and "
    "deleting a magnet every second, an `ffprobe` walk over the whole mount, a `.torrent` "
    f"dropped into and removed from the watch folder, and the seeder leaving for "
    f"{PLANS[0].seeder_away_for_s:.0f} s every {PLANS[0].seeder_away_every_s:.0f} s. Every "
    "byte read is checked. Sampled every 10 s: descriptors, threads, RSS, torrent data in "
    f"RAM (store plus working files in memory) and CPU. Early is the {WINDOW_S / 60:.0f} "
    f"minutes after {WARM_UP_S:.0f} s of warm-up, late the last {WINDOW_S / 60:.0f}. Then "
    "the clients leave (descriptors after), come back, and the mount is killed with SIGKILL "
    f"in the middle of {PLANS[0].kill_load_s:.0f} s of their load and started again: the "
    "time until it lists every torrent again, files of the watch folder and metadata cache "
    "changed or lost, and (disk mode) what the seeder sends again for the region read "
    "before the kill."
)


def run(cache: Path, work: Path, log: Callable[[str], None]) -> list[Result]:
    movie = media.movie(cache)
    results = []
    for plan in PLANS:
        log(f"soak: {plan.storage} mode, {plan.load_s / 60:.0f} minutes")
        folder = Path(tempfile.mkdtemp(prefix=f"soak-{plan.storage}-", dir=work))
        try:
            results.append(_result(plan, soak(movie.root, movie.torrent, folder, plan)))
        except Exception as error:  # one mode failing must not lose the other's figures
            log(f"soak: {plan.storage} failed: {error!r}")
            results.append({"client": f"torrentfs {plan.storage}", "error": repr(error)})
    return results


def _result(plan: SoakPlan, outcome: SoakOutcome) -> Result:
    early = [s for s in outcome.samples if WARM_UP_S <= s.at_s < WARM_UP_S + WINDOW_S]
    late = [s for s in outcome.samples if s.at_s >= plan.load_s - WINDOW_S]
    first, last = outcome.samples[0], outcome.samples[-1]
    return {
        "client": f"torrentfs {plan.storage}",
        "storage": plan.storage,
        "cache_bytes": parse_size(plan.cache_size),
        "samples": [list(sample) for sample in outcome.samples],
        "early": _means(early),
        "late": _means(late),
        "baseline_descriptors": outcome.baseline.descriptors,
        "descriptors_after": outcome.descriptors_after,
        "data_peak_bytes": max(s.data_bytes for s in outcome.samples),
        "cpu_share": (last.cpu_s - first.cpu_s) / max(last.at_s - first.at_s, 1e-9),
        "bytes_checked": outcome.bytes_checked,
        "wrong": outcome.wrong,
        "errors": outcome.errors,
        "tracebacks": outcome.tracebacks,
        "listed_before": outcome.listed_before,
        "listed_after": outcome.listed_after,
        "up_after_kill_s": outcome.up_after_kill_s,
        "lost_files": outcome.lost_files,
        "resent_bytes": outcome.resent_bytes,
    }


def _means(samples: Sequence[Sample]) -> dict[str, float]:
    return {
        name: statistics.fmean(getattr(s, name) for s in samples)
        for name in ("descriptors", "threads", "rss_bytes")
    }


def table(results: list[Result]) -> str:
    if not results:
        return "(not run)"
    return report.figures_table(results, _ROWS)


def _flat(result: Result, name: str, scale: float = 1.0, unit: str = "") -> str:
    early, late = result["early"][name] / scale, result["late"][name] / scale
    return f"{early:.0f}{unit} / {late:.0f}{unit}"


_ROWS: list[tuple[str, Callable[[Result], str]]] = [
    ("descriptors: before / early / late / clients gone", lambda r: (
        f"{r['baseline_descriptors']} / {_flat(r, 'descriptors')} / {r['descriptors_after']}"
    )),
    ("threads: early / late", lambda r: _flat(r, "threads")),
    ("RSS: early / late (MiB)", lambda r: _flat(r, "rss_bytes", MIB)),
    ("torrent data in RAM, most at any sample (MiB)", lambda r: (
        f"{r['data_peak_bytes'] / MIB:.0f} of {r['cache_bytes'] / MIB:.0f}"
    )),
    ("CPU (share of a core)", lambda r: f"{r['cpu_share']:.2f}"),
    ("bytes checked / wrong", lambda r: f"{r['bytes_checked'] / MIB:.0f} MiB / {len(r['wrong'])}"),
    ("client errors while up / tracebacks", lambda r: f"{len(r['errors'])} / {r['tracebacks']}"),
    ("after kill -9: every torrent listed again (s)", lambda r: (
        "never" if r["up_after_kill_s"] is None else f"{r['up_after_kill_s']:.1f}"
    )),
    ("torrents before / after", lambda r: f"{r['listed_before']} / {r['listed_after']}"),
    ("watch-folder and metadata files lost or changed", lambda r: str(len(r["lost_files"]))),
    ("sent again for what was read before the kill (bytes)", lambda r: (
        "-" if r["resent_bytes"] is None else str(r["resent_bytes"])
    )),
]  # fmt: skip


def targets(results: list[Result]) -> list[tuple[str, str, bool]]:
    checks = []
    for result in results:
        if "error" in result:
            checks.append((f"soak, {result['client']}", "failed", False))
            continue
        mode = f"soak, {result['storage']} mode"
        for name, label in (("descriptors", "descriptors"), ("threads", "threads"),
                            ("rss_bytes", "RSS")):  # fmt: skip
            early, late = result["early"][name], result["late"][name]
            checks.append((
                f"{mode}: {label} late within {FLAT_WITHIN:.0%} of early",
                f"{late / early - 1:+.1%}",
                late <= (1 + FLAT_WITHIN) * early,
            ))  # fmt: skip
        checks += [
            (
                f"{mode}: descriptors back to before once the clients left",
                f"{result['descriptors_after']} of {result['baseline_descriptors']}",
                result["descriptors_after"] <= result["baseline_descriptors"],
            ),
            (
                f"{mode}: torrent data in RAM never above --cache-size",
                f"{result['data_peak_bytes'] / MIB:.0f} MiB",
                result["data_peak_bytes"] <= result["cache_bytes"],
            ),
            (
                f"{mode}: 0 wrong bytes, 0 tracebacks",
                f"{len(result['wrong'])}, {result['tracebacks']}",
                not result["wrong"] and result["tracebacks"] == 0,
            ),
            (
                f"{mode}: after kill -9, up with every torrent within {UP_WITHIN_S:g} s, "
                "no file lost",
                "never"
                if result["up_after_kill_s"] is None
                else f"{result['up_after_kill_s']:.1f} s, {len(result['lost_files'])} lost",
                result["up_after_kill_s"] is not None
                and result["up_after_kill_s"] <= UP_WITHIN_S
                and not result["lost_files"],
            ),
        ]
        if result["resent_bytes"] is not None:
            checks.append((
                f"{mode}: 0 verified bytes downloaded again after kill -9",
                str(result["resent_bytes"]),
                result["resent_bytes"] == 0,
            ))  # fmt: skip
    return checks
