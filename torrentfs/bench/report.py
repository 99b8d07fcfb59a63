"""Turning benchmark results into a table on stdout and docs/benchmarks.md."""

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

Result = dict[str, Any]

REPRODUCE = "make bench"


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f}"


def _s(seconds: float) -> str:
    return f"{seconds:.2f}"


def playback_table(results: Sequence[Result]) -> str:
    rows = [
        ("file visible after start (s)", lambda r: _s(r["visible_s"])),
        ("first 64 KiB read (s)", lambda r: _s(r["first_64k_s"])),
        ("ffprobe (s)", lambda r: _s(r["ffprobe_s"])),
        ("`ffmpeg -ss 60` one frame (s)", lambda r: _s(r["seek_60s_frame_s"])),
        ("60 s real-time playback, wall (s)", lambda r: _s(r["playback_60s_wall_s"])),
        (
            "players read (MB, measured on the original file)",
            lambda r: _mb(r["players_read_bytes"]),
        ),
        ("seeders uploaded (MB)", lambda r: _mb(r["seeders_uploaded_bytes"])),
        (
            "uploaded / read",
            lambda r: f"{r['seeders_uploaded_bytes'] / r['players_read_bytes']:.2f}",
        ),
        ("peak RSS (MB)", lambda r: _mb(r["peak_rss_bytes"])),
        ("all player commands succeeded", lambda r: "yes" if r["players_ok"] else "NO"),
    ]
    return _table(results, rows)


def _table(results: Sequence[Result], rows: Sequence[tuple[str, Any]]) -> str:
    header = "| figure | " + " | ".join(r["client"] for r in results) + " |"
    rule = "| --- |" + " --- |" * len(results)
    lines = [header, rule]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(_cell(cell, r) for r in results) + " |")
    return "\n".join(lines)


def _cell(cell: Any, result: Result) -> str:
    if "error" in result:
        return "failed"
    text: str = cell(result)
    return text


def scan_table(results: Sequence[Result]) -> str:
    rows = [
        (
            "videos probed of all (failures)",
            lambda r: f"{r['videos_probed']} of {r['videos']} ({r['probe_failures']})",
        ),
        ("scan time (s)", lambda r: _s(r["scan_s"])),
        ("fetched (MB)", lambda r: _mb(r["seeders_uploaded_bytes"])),
        (
            "fetched / torrent size",
            lambda r: f"{r['seeders_uploaded_bytes'] / r['torrent_bytes']:.1%}",
        ),
    ]
    return _table(results, rows)


def walk_table(results: Sequence[Result]) -> str:
    rows = [
        ("files read (of all)", lambda r: f"{r['files_read']} ({r['files']})"),
        ("walk (MB/s)", lambda r: f"{r['walk_mb_s']:.2f}"),
        ("walk / swarm rate", lambda r: f"{r['walk_mb_s'] / r['swarm_mb_s']:.0%}"),
        (
            "same walk, all cached (MB/s)",
            lambda r: f"{r['cached_walk_mb_s']:.0f}" if "cached_walk_mb_s" in r else "-",
        ),
    ]
    return _table(results, rows)


def cached_table(results: Sequence[Result], tmpfs_mb_s: float) -> str:
    rows = [
        ("first read of fetched data (MB/s)", lambda r: f"{r['first_read_from_client_mb_s']:.0f}"),
        ("  / tmpfs `cat`", lambda r: f"{r['first_read_from_client_mb_s'] / tmpfs_mb_s:.0%}"),
        ("re-read from page cache (MB/s)", lambda r: f"{r['reread_page_cache_mb_s']:.0f}"),
        ("  / tmpfs `cat`", lambda r: f"{r['reread_page_cache_mb_s'] / tmpfs_mb_s:.0%}"),
    ]
    return _table(results, rows) + f"\n\n`cat` of the same file on tmpfs: {tmpfs_mb_s:.0f} MB/s."


def markdown(sections: Sequence[tuple[str, str, str]], swarm_note: str) -> str:
    """The whole docs/benchmarks.md: a title, how it was measured, one table per section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks",
        "",
        f"Measured {when} on {platform.machine()} ({os.cpu_count()} cores), Linux "
        f"{platform.release()}. Reproduce with `{REPRODUCE}` (about 8 minutes; the content is "
        "made once and cached in `~/.cache/torrentfs-bench`).",
        "",
        swarm_note,
        "",
    ]
    for title, explanation, table in sections:
        parts += [f"## {title}", "", explanation, "", table, ""]
    return "\n".join(parts)
