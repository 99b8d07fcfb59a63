"""Turning benchmark results into a table on stdout and docs/benchmarks.md."""

import os
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from torrentfs_tools.bench.players import SEEKS_S

Result = dict[str, Any]

REPRODUCE = "make bench"
MIB = 1 << 20


def mb_text(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f}"


def seconds_text(seconds: float) -> str:
    return f"{seconds:.2f}"


def playback_table(results: Sequence[Result]) -> str:
    rows = [
        ("file visible after start (s)", lambda r: seconds_text(r["visible_s"])),
        ("first 64 KiB read (s)", lambda r: seconds_text(r["first_64k_s"])),
        ("ffprobe (s)", lambda r: seconds_text(r["ffprobe_s"])),
        ("`ffmpeg -ss 60` one frame (s)", lambda r: seconds_text(r["seek_60s_frame_s"])),
        ("60 s real-time playback, wall (s)", lambda r: seconds_text(r["playback_60s_wall_s"])),
        (
            "players read (MB, measured on the original file)",
            lambda r: mb_text(r["players_read_bytes"]),
        ),
        ("seeders uploaded (MB)", lambda r: mb_text(r["seeders_uploaded_bytes"])),
        (
            "uploaded / read",
            lambda r: f"{r['seeders_uploaded_bytes'] / r['players_read_bytes']:.2f}",
        ),
        ("peak RSS (MB)", lambda r: mb_text(r["peak_rss_bytes"])),
        ("all player commands succeeded", lambda r: "yes" if r["players_ok"] else "NO"),
    ]
    return figures_table(results, rows)


def seeders_table(rows: Sequence[Result], cap_bytes_s: int) -> str:
    """One row per kind of seeder: the plain client, torrentfs and btfs side by side."""

    def figure(row: Result, client: str, key: str, text: Any) -> str:
        result = row.get(client, {})
        return "failed" if "error" in result or key not in result else str(text(result[key]))

    lines = [
        "| seeder | plain: metadata / first piece (s) | plain (MB/s) "
        "| torrentfs: first 64 KiB (s) | torrentfs (MB/s) | / plain | / cap "
        "| torrentfs exit after unmount (s) | btfs: first 64 KiB (s) | btfs (MB/s) |",
        "| --- |" + " --- |" * 9,
    ]
    for row in rows:
        plain, mine = row.get("plain", {}), row.get("torrentfs", {})
        metadata_s = plain.get("metadata_s", 0.0)
        both = "rate_bytes_s" in plain and "rate_bytes_s" in mine
        cells = [
            row["kind"],
            figure(row, "plain", "first_piece_s",
                   lambda v, m=metadata_s: f"{seconds_text(m)} / {seconds_text(v)}"),
            figure(row, "plain", "rate_bytes_s", lambda v: f"{v / 1e6:.2f}"),
            figure(row, "torrentfs", "first_64k_s", seconds_text),
            figure(row, "torrentfs", "rate_bytes_s", lambda v: f"{v / 1e6:.2f}"),
            f"{mine['rate_bytes_s'] / plain['rate_bytes_s']:.0%}" if both else "-",
            figure(row, "torrentfs", "rate_bytes_s", lambda v: f"{v / cap_bytes_s:.0%}"),
            figure(row, "torrentfs", "exit_s", seconds_text),
            figure(row, "btfs", "first_64k_s", seconds_text),
            figure(row, "btfs", "rate_bytes_s", lambda v: f"{v / 1e6:.2f}"),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def players_table(results: Sequence[Result], pause_bound_bytes: float) -> str:
    def seek(index: int) -> Any:
        return lambda r: seconds_text(r["seeks_s"][index])

    def median_seek(r: Result) -> str:
        return seconds_text(sorted(r["seeks_s"])[len(r["seeks_s"]) // 2])

    rows = [
        (
            "mpv: first frame after the file is visible (s)",
            lambda r: seconds_text(r["first_frame_s"]),
        ),
        *((f"mpv: seek to {target} s (s)", seek(index)) for index, target in enumerate(SEEKS_S)),
        ("mpv: median seek (s)", median_seek),
        ("mpv: longest seek (s)", lambda r: seconds_text(max(r["seeks_s"]))),
        (
            f"fetched during a 60 s mpv pause (MB; mpv's cache + one window: "
            f"{mb_text(pause_bound_bytes)})",
            lambda r: mb_text(r["fetched_in_pause_bytes"]),
        ),
        (
            "cvlc as another user: open and play 1 s (s)",
            lambda r: seconds_text(r["vlc_first_second_s"]),
        ),
        ("cvlc succeeded", lambda r: "yes" if r["vlc_ok"] else "NO"),
        ("minidlna: scan until every duration is known (s)", lambda r: seconds_text(r["scan_s"])),
        (
            "minidlna: videos with a duration",
            lambda r: f"{r['videos_with_duration']} of {r['videos']}",
        ),
        ("minidlna: share of the library fetched", lambda r: f"{r['fetched_share']:.1%}"),
    ]
    return figures_table(results, rows)


def figures_table(results: Sequence[Result], rows: Sequence[tuple[str, Any]]) -> str:
    header = "| figure | " + " | ".join(r["client"] for r in results) + " |"
    rule = "| --- |" + " --- |" * len(results)
    lines = [header, rule]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(_cell(cell, r) for r in results) + " |")
    return "\n".join(lines)


def torrentfs_table(
    result: Result | None, rows: Callable[[Result], Sequence[tuple[str, str]]]
) -> str:
    """A table of torrentfs's figures alone (`rows` of its result), or why there are none."""
    if result is None:
        return "(not run)"
    if "error" in result:
        return f"failed: {result['error']}"
    lines = ["| figure | torrentfs |", "| --- | --- |"]
    return "\n".join([*lines, *(f"| {label} | {value} |" for label, value in rows(result))])


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
        ("scan time (s)", lambda r: seconds_text(r["scan_s"])),
        ("fetched (MB)", lambda r: mb_text(r["seeders_uploaded_bytes"])),
        (
            "fetched / torrent size",
            lambda r: f"{r['seeders_uploaded_bytes'] / r['torrent_bytes']:.1%}",
        ),
    ]
    return figures_table(results, rows)


def walk_table(results: Sequence[Result]) -> str:
    rows = [
        ("files read (of all)", lambda r: f"{r['files_read']} ({r['files']})"),
        ("walk (MB/s)", lambda r: f"{r['walk_mb_s']:.2f}"),
        ("walk / swarm rate", lambda r: f"{r['walk_mb_s'] / r['swarm_mb_s']:.0%}"),
        ("same files again, fetched (MB/s)", lambda r: f"{r['cached_walk_mb_s']:.0f}"),
    ]
    return figures_table(results, rows)


def big_read_table(results: Sequence[Result]) -> str:
    rows = [
        ("read (MiB of 1024)", lambda r: f"{r['read_bytes'] / MIB:.0f}"),
        ("read time (s)", lambda r: seconds_text(r["read_s"])),
        (
            "peak private memory + kept data (MiB)",
            lambda r: f"{r['peak_private_plus_data_bytes'] / MIB:.0f}",
        ),
        ("peak kept data (MiB)", lambda r: f"{r['peak_data_bytes'] / MIB:.0f}"),
    ]
    return figures_table(results, rows)


def cached_table(results: Sequence[Result], tmpfs_mb_s: float) -> str:
    rows = [
        ("first read of fetched data (MB/s)", lambda r: f"{r['first_read_from_client_mb_s']:.0f}"),
        ("  / tmpfs `cat`", lambda r: f"{r['first_read_from_client_mb_s'] / tmpfs_mb_s:.0%}"),
        ("re-read from page cache (MB/s)", lambda r: f"{r['reread_page_cache_mb_s']:.0f}"),
        ("  / tmpfs `cat`", lambda r: f"{r['reread_page_cache_mb_s'] / tmpfs_mb_s:.0%}"),
    ]
    return (
        figures_table(results, rows)
        + f"\n\n`cat` of the same file on tmpfs: {tmpfs_mb_s:.0f} MB/s."
    )


def network_by_mode_table(results: Sequence[Result]) -> str:
    """One row per mode: disk used, bytes fetched while playing and while paused, peak memory."""
    lines = [
        "| mode | disk used (MB) | fetched during 60 s of playback (MB) "
        "| fetched during the next 60 s of pause (MB) | peak memory (MiB) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['mode']} | failed | | | |")
            continue
        lines.append(
            f"| {r['mode']} | {mb_text(r['disk_bytes'])} | {mb_text(r['playback_fetched_bytes'])} "
            f"| {mb_text(r['pause_fetched_bytes'])} | {r['peak_memory_bytes'] / MIB:.0f} |"
        )
    return "\n".join(lines)


def idle_table(results: Sequence[Result], piece_bytes: int) -> str:
    rows = [
        (
            "fetched in 30 s of pause, 25-55 s after playback (MB)",
            lambda r: mb_text(r["idle_window_fetched_bytes"]),
        ),
        ("  in pieces", lambda r: f"{r['idle_window_fetched_bytes'] / piece_bytes:.1f}"),
        ("first read after 60 s of pause (s)", lambda r: seconds_text(r["resume_read_s"])),
        (
            "first read after a full pause (s)",
            lambda r: seconds_text(r["resume_after_disconnect_s"])
            if "resume_after_disconnect_s" in r
            else "-",
        ),
    ]  # fmt: skip
    return figures_table(results, rows)


def markdown(sections: Sequence[tuple[str, str, str]], swarm_note: str) -> str:
    """The whole docs/benchmarks.md: a title, how it was measured, one table per section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks",
        "",
        f"Measured {when} on {platform.machine()} ({os.cpu_count()} cores), Linux "
        f"{platform.release()}. Reproduce with `{REPRODUCE}` (about 50 minutes, 23 of them "
        "the soak; the content is made once, in about a minute, and cached in "
        "`~/.cache/torrentfs-bench`).",
        "",
        swarm_note,
        "",
    ]
    for title, explanation, table in sections:
        parts += [f"## {title}", "", explanation, "", table, ""]
    return "\n".join(parts)
