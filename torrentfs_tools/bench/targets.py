"""torrentfs's figures against the targets it is built to meet, one line each."""

from collections.abc import Sequence

from torrentfs_tools.bench.players import SEEK_LONGEST_TARGET_S, SEEK_MEDIAN_TARGET_S
from torrentfs_tools.bench.report import mb_text, seconds_text
from torrentfs_tools.bench.scenarios import Result


def targets(
    playback: Sequence[Result],
    scans: Sequence[Result],
    walks: Sequence[Result],
    cached: Sequence[Result],
    pauses: Sequence[Result],
    tmpfs_mb_s: float,
    window_bytes: float,
    piece_bytes: int,
    real_peer_checks: Sequence[tuple[str, str, bool]] = (),
) -> str:
    """torrentfs's figures against the targets it is built to meet, one line each."""
    ours = _torrentfs(playback), _torrentfs(scans), _torrentfs(walks), _torrentfs(cached)
    play, scan, walk, cache = ours
    pause = _torrentfs(pauses)
    checks: list[tuple[str, str, bool]] = list(real_peer_checks)
    if play:
        allowed = 1.5 * play["players_read_bytes"] + window_bytes
        checks += [
            ("first 64 KiB within 1.5 s", seconds_text(play["first_64k_s"]),
             play["first_64k_s"] <= 1.5),
            ("ffprobe within 3 s", seconds_text(play["ffprobe_s"]), play["ffprobe_s"] <= 3),
            ("seek-to-60 s frame within 2 s", seconds_text(play["seek_60s_frame_s"]),
             play["seek_60s_frame_s"] <= 2),
            ("60 s playback under 61.5 s", seconds_text(play["playback_60s_wall_s"]),
             play["playback_60s_wall_s"] < 61.5),
            (f"uploaded at most 1.5 x read + window ({mb_text(allowed)} MB)",
             mb_text(play["seeders_uploaded_bytes"]), play["seeders_uploaded_bytes"] <= allowed),
        ]  # fmt: skip
    if cache:
        ratio = cache["reread_page_cache_mb_s"] / tmpfs_mb_s
        checks.append(("cached reads at least 50% of tmpfs", f"{ratio:.0%}", ratio >= 0.5))
    if scan:
        fraction = scan["seeders_uploaded_bytes"] / scan["torrent_bytes"]
        checks.append(("library scan fetches at most 10%", f"{fraction:.1%}", fraction <= 0.1))
    if walk:
        share = walk["walk_mb_s"] / walk["swarm_mb_s"]
        checks.append(("small-file walk at least 50% of the swarm", f"{share:.0%}", share >= 0.5))
    if pause:
        idle_bytes = pause["idle_window_fetched_bytes"]
        checks.append(
            (
                f"fetched in 30 s idle at most 2 pieces ({mb_text(2 * piece_bytes)} MB)",
                mb_text(idle_bytes),
                idle_bytes <= 2 * piece_bytes,
            )
        )
    lines = ["| target | torrentfs | met |", "| --- | --- | --- |"]
    lines += [f"| {label} | {value} | {'yes' if ok else 'NO'} |" for label, value, ok in checks]
    return "\n".join(lines)


def real_peer_checks(
    seeder_mix: Sequence[Result],
    player_runs: Sequence[Result],
    playback: Sequence[Result],
    cap_bytes_s: int,
    pause_bound_bytes: float,
) -> list[tuple[str, str, bool]]:
    """The targets against real seeders and players (each seeder kind, mpv, ffmpeg)."""
    checks: list[tuple[str, str, bool]] = []
    for row in seeder_mix:
        plain, mine = row.get("plain", {}), row.get("torrentfs", {})
        if "rate_bytes_s" not in plain or "rate_bytes_s" not in mine:
            checks.append((f"{row['kind']}: streams", "failed", False))
            continue
        rate, plain_rate = mine["rate_bytes_s"], plain["rate_bytes_s"]
        bound = plain["first_piece_s"] + 0.5
        checks += [
            (f"{row['kind']}: read at least 80% of the cap and 90% of the plain client",
             f"{rate / cap_bytes_s:.0%}, {rate / plain_rate:.0%}",
             rate >= 0.8 * cap_bytes_s and rate >= 0.9 * plain_rate),
            (f"{row['kind']}: first 64 KiB within the plain client's first piece + 0.5 s "
             f"({seconds_text(bound)})", seconds_text(mine["first_64k_s"]),
             mine["first_64k_s"] <= bound),
            (f"{row['kind']}: exit within 5 s of the unmount", seconds_text(mine["exit_s"]),
             mine["exit_s"] <= 5),
        ]  # fmt: skip
        if row["kind"] == "libtorrent defaults":
            checks.append(
                ("libtorrent defaults: first 64 KiB within 1 s", seconds_text(mine["first_64k_s"]),
                 mine["first_64k_s"] <= 1)
            )  # fmt: skip
    mpv = _torrentfs(player_runs)
    if mpv and "seeks_s" in mpv:
        median = sorted(mpv["seeks_s"])[len(mpv["seeks_s"]) // 2]
        longest = max(mpv["seeks_s"])
        fetched = mpv["fetched_in_pause_bytes"]
        checks += [
            (f"mpv: median of {len(mpv['seeks_s'])} seeks within {SEEK_MEDIAN_TARGET_S} s",
             seconds_text(median), median <= SEEK_MEDIAN_TARGET_S),
            (f"mpv: no seek over {SEEK_LONGEST_TARGET_S} s", seconds_text(longest),
             longest <= SEEK_LONGEST_TARGET_S),
            (f"fetched in a 60 s mpv pause at most its cache + a window "
             f"({mb_text(pause_bound_bytes)} MB)", mb_text(fetched), fetched <= pause_bound_bytes),
        ]  # fmt: skip
    play = _torrentfs(playback)
    if play:
        frame_s = play["seek_60s_frame_s"]
        checks.append(
            ("`ffmpeg -ss 60` one frame within 0.6 s", seconds_text(frame_s), frame_s <= 0.6)
        )
    return checks


def _torrentfs(results: Sequence[Result]) -> Result | None:
    return next((r for r in results if r["client"] == "torrentfs" and "error" not in r), None)
