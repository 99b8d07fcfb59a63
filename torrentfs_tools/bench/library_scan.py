"""minidlna scanning a library mount of fifty one-video torrents: what it fetches, how many
torrents it wakes at once, and how soon they all leave the swarm after.

The fifty videos are the scan library's twenty episodes under fifty names
(hard links; `moov` at the end in every other one), each its own torrent,
all seeded by one libtorrent session with default settings, as a seedbox
seeds many torrents. torrentfs mounts their folder of .torrent files with
`allow_other` and the default `--max-active`; minidlna scans it as its own
user while the torrents in the swarm are counted from `torrentfs status`.
"""

import os
import time
from pathlib import Path

from torrentfs.core.config import DEFAULT_MAX_ACTIVE_TORRENTS
from torrentfs.core.status_schema import LibraryStatus
from torrentfs.status import read_library_status
from torrentfs_tools.bench import media, report
from torrentfs_tools.bench.clients import TorrentfsClient
from torrentfs_tools.bench.players import MINIDLNA_USER, Minidlna
from torrentfs_tools.bench.scenarios import Result
from torrentfs_tools.bench.swarm import SEEDER_ADDRESSES, SEEDER_RATE_BYTES_S
from torrentfs_tools.loopback import Seeder, make_torrent

TORRENTS = 50
# The mount's --idle-disconnect: short, so that the bench need not wait the
# default five minutes to see the torrents leave.
IDLE_DISCONNECT_S = 20
# What a seedbox sends in all: the two bench seeders' rate together.
SEEDBOX_RATE_BYTES_S = 2 * SEEDER_RATE_BYTES_S
SCAN_LIMIT_S = 300.0
SAMPLE_S = 0.25
# Targets (issue 13).
FETCHED_AT_MOST = 0.10
ALL_OUT_WITHIN_S = IDLE_DISCONNECT_S + 10

DESCRIPTION = (
    f"{TORRENTS} torrents of one video each (the scan library's 20 videos under "
    f"{TORRENTS} names, `moov` at the end in every other one), seeded by one libtorrent "
    f"session with default settings at {SEEDBOX_RATE_BYTES_S / 1e6:g} MB/s, as a seedbox "
    "seeds many; torrentfs mounts the folder of their .torrent files as a library with "
    f"`--allow-other --idle-disconnect {IDLE_DISCONNECT_S}s` and the default `--max-active` "
    f"({DEFAULT_MAX_ACTIVE_TORRENTS}). minidlna, as user `{MINIDLNA_USER}`, scans it until "
    "every video's duration is in its database; the torrents in the swarm are counted from "
    f"`torrentfs status` every {SAMPLE_S:g} s, during the scan and after it until none is left."
)


def shelf(cache: Path, library: media.BenchContent) -> list[media.BenchContent]:
    """The fifty one-video torrents: hard links to the library's episodes, made once."""
    episodes = sorted(library.root.rglob("*.mp4"))
    folder = cache / "shelf"
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for index in range(TORRENTS):
        video = folder / f"Video {index + 1:02}.mp4"
        if not video.exists():
            os.link(episodes[index % len(episodes)], video)
        videos.append(media.BenchContent(video, make_torrent(video, media.LIBRARY_PIECE_LENGTH)))
    return videos


def run(cache: Path, work: Path, library: media.BenchContent) -> Result:
    videos = shelf(cache, library)
    watch = work / "shelf-watch"
    watch.mkdir()
    parent = videos[0].root.parent
    with Seeder(
        videos[0].torrent, parent, SEEDER_ADDRESSES[0], SEEDBOX_RATE_BYTES_S, tick_interval_ms=None
    ) as seedbox:
        for video in videos[1:]:
            seedbox.seed(video.torrent, parent)
        for number, video in enumerate(videos, 1):
            (watch / f"{number:02}.torrent").write_bytes(video.torrent)
        client = TorrentfsClient(
            work / "shelf-mount",
            ("--allow-other", "--peer", seedbox.peer, "--idle-disconnect", f"{IDLE_DISCONNECT_S}s"),
        )
        client.start(watch)
        try:
            first = videos[0].root.name
            client.wait_visible(f"{first}/{first}")
            result = _scan(client, len(videos))
        finally:
            client.stop()
        fetched = seedbox.uploaded_bytes()
    return {**result, "fetched_share": fetched / sum(video.size for video in videos)}


def _scan(client: TorrentfsClient, videos: int) -> Result:
    most_active = 0
    with_duration = 0
    with Minidlna(str(client.mountpoint), client.run_dir) as minidlna:
        while minidlna.running_s() < SCAN_LIMIT_S and with_duration < videos:
            most_active = max(most_active, _in_swarm(read_library_status(client.mountpoint)))
            with_duration = minidlna.videos_with_duration()
            time.sleep(SAMPLE_S)
        scan_s = minidlna.running_s()
    scanned_at = time.monotonic()
    active = _in_swarm(read_library_status(client.mountpoint))
    while active and time.monotonic() - scanned_at < SCAN_LIMIT_S:
        time.sleep(SAMPLE_S)
        active = _in_swarm(read_library_status(client.mountpoint))
    return {
        "client": client.name,
        "videos": videos,
        "videos_with_duration": with_duration,
        "scan_s": scan_s,
        "most_active": most_active,
        "all_out_after_s": time.monotonic() - scanned_at if not active else None,
    }


def _in_swarm(status: LibraryStatus) -> int:
    """Torrents in the session: only those have a mount status."""
    return sum(1 for torrent in status["torrents"] if torrent["status"] is not None)


def table(result: Result | None) -> str:
    return report.torrentfs_table(result, _rows)


def _rows(r: Result) -> list[tuple[str, str]]:
    out = r["all_out_after_s"]
    return [
        ("videos with a duration in minidlna's database",
         f"{r['videos_with_duration']} of {r['videos']}"),
        ("scan until every duration is known (s)", f"{r['scan_s']:.1f}"),
        ("share of the library fetched", f"{r['fetched_share']:.1%}"),
        ("most torrents in the swarm at once", f"{r['most_active']}"),
        ("after the scan, until none is in the swarm (s)",
         "never" if out is None else f"{out:.1f}"),
    ]  # fmt: skip


def targets(result: Result | None) -> list[tuple[str, str, bool]]:
    if result is None or "error" in result:
        return []
    r = result
    out = r["all_out_after_s"]
    return [
        (f"library of {TORRENTS}, minidlna: every video's duration",
         f"{r['videos_with_duration']} of {r['videos']}",
         r["videos_with_duration"] == r["videos"]),
        (f"library of {TORRENTS}, minidlna: at most {FETCHED_AT_MOST:.0%} fetched",
         f"{r['fetched_share']:.1%}", r["fetched_share"] <= FETCHED_AT_MOST),
        (f"library of {TORRENTS}, minidlna: at most {DEFAULT_MAX_ACTIVE_TORRENTS} in the swarm",
         f"{r['most_active']}", r["most_active"] <= DEFAULT_MAX_ACTIVE_TORRENTS),
        (f"library of {TORRENTS}: all out of the swarm within {ALL_OUT_WITHIN_S} s of the scan",
         "never" if out is None else f"{out:.1f}", out is not None and out <= ALL_OUT_WITHIN_S),
    ]  # fmt: skip
