"""torrentfs as Sonarr and Radarr drive it, through the qBittorrent API: how soon an add
is complete, what an import fetches, and what listing a big library costs.

- Complete: an empty library mounted with `--http` and `--symlink-dir`. The 20-video
  library torrent (a season) added as a magnet naming its two seeders (libtorrent with its
  default settings, 2 MB/s each): the time until its folder shows in the mount (its
  metadata is in) and until `torrents/info` reports it complete, polled every 10 ms. Then
  the playback movie's `.torrent` uploaded (multipart, as the *arr send a file from an
  indexer): from the request to `torrents/info` reporting it complete.
- Import: the season's folder of symlinks moved into `media/` as the *arr do, then
  `ffprobe` of each video through the moved symlinks, one after another, as the *arr's
  media analysis does: the share of the season the seeders sent.
- Listing: `torrents/info` of a library of 1000 tiny torrents (the median of 5 calls), and
  how many torrents it started (`torrentfs status`).
"""

import contextlib
import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from torrentfs.status import read_library_status
from torrentfs_tools.bench import media
from torrentfs_tools.bench.scenarios import Result
from torrentfs_tools.bench.swarm import SEEDER_RATE_BYTES_S, Swarm
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import MountProcess, info_hash_of, magnet_for, write_tiny_library

HOST = "127.0.0.1"
USER = "sonarr"
PASSWORD = "bench"
CATEGORY = "tv"
COMPLETED_STATES = frozenset({"uploading", "stalledUP", "pausedUP", "queuedUP", "forcedUP"})
POLL_S = 0.01
ADD_LIMIT_S = 120.0
PROBE_TIMEOUT_S = 120.0
LISTED_TORRENTS = 1000
LISTING_CALLS = 5
# Targets (issue 21).
MAGNET_COMPLETE_WITHIN_S = 1.0
UPLOAD_COMPLETE_WITHIN_S = 0.5
IMPORT_FETCHES_AT_MOST = 0.10
LISTING_WITHIN_S = 0.2

DESCRIPTION = __doc__.split("\n\n", 1)[1] if __doc__ else ""


@contextlib.contextmanager
def _library(
    work: Path, name: str, watch: Path | None = None
) -> Iterator[tuple[MountProcess, httpx.Client]]:
    """A library mount with the API on, and an API client logged in as the *arr do."""
    run_dir = work / f"arr-{name}"
    run_dir.mkdir()
    if watch is None:
        watch = run_dir / "watch"
        watch.mkdir()
    mountpoint = run_dir / "mnt"
    mountpoint.mkdir()
    port = free_port(HOST)
    args = (
        "--http", str(port), "--http-user", USER, "--http-password", PASSWORD,
        "--symlink-dir", str(run_dir / "links"), "--cache-dir", str(run_dir / "cache"),
    )  # fmt: skip
    with MountProcess(str(watch), mountpoint, args, run_dir / "torrentfs.log") as mount:
        mount.wait_mounted()
        with httpx.Client(base_url=f"http://{HOST}:{port}/api/v2", timeout=60) as api:
            login = api.post("/auth/login", data={"username": USER, "password": PASSWORD})
            if login.text != "Ok.":
                raise RuntimeError(f"login refused: {login.status_code} {login.text}")
            yield mount, api
        mount.unmount()


def _complete(api: httpx.Client, info_hash: str) -> dict[str, object] | None:
    """The torrent's entry in `torrents/info` if it reports itself complete."""
    for entry in api.get("/torrents/info", params={"hashes": info_hash}).json():
        if entry["progress"] == 1 and entry["state"] in COMPLETED_STATES:
            return dict(entry)
    return None


def _until(check: Callable[[], object], what: str) -> float:
    """Poll `check` until it is truthy; the moment it was (time.monotonic)."""
    deadline = time.monotonic() + ADD_LIMIT_S
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {ADD_LIMIT_S:.0f} s")
        time.sleep(POLL_S)
    return time.monotonic()


def add_and_import(cache: Path, work: Path) -> Result:
    season = media.library(cache)
    movie = media.movie(cache)
    run_dir = work / "arr-season"
    run_dir.mkdir()
    with (
        Swarm(season, run_dir, SEEDER_RATE_BYTES_S, tick_interval_ms=None) as swarm,
        _library(work, "add") as (mount, api),
    ):
        magnet = magnet_for(season.torrent, [seeder.endpoint for seeder in swarm.seeders])
        season_hash = info_hash_of(season.torrent)
        folder = mount.mountpoint / CATEGORY / season.root.name
        added_at = time.monotonic()
        if api.post("/torrents/add", data={"urls": magnet, "category": CATEGORY}).text != "Ok.":
            raise RuntimeError("the magnet was refused")
        metadata_at = _until(folder.is_dir, "the season's folder")
        complete_at = _until(lambda: _complete(api, season_hash), "the magnet complete")
        payload_at_complete = swarm.uploaded_bytes()
        entry = _complete(api, season_hash)
        assert entry is not None

        upload_started = time.monotonic()
        files = {"torrents": (f"{movie.root.name}.torrent", movie.torrent)}
        if api.post("/torrents/add", data={"category": "movies"}, files=files).text != "Ok.":
            raise RuntimeError("the upload was refused")
        movie_hash = info_hash_of(movie.torrent)
        upload_s = _until(lambda: _complete(api, movie_hash), "the upload") - upload_started

        media_folder = run_dir / "media" / season.root.name
        media_folder.parent.mkdir()
        shutil.move(str(entry["content_path"]), media_folder)
        videos = sorted(media_folder.rglob("*.mp4"))
        probed_right = sum(_probe_ok(video) for video in videos)
        return {
            "metadata_s": metadata_at - added_at,
            "complete_after_metadata_s": max(0.0, complete_at - metadata_at),
            "payload_at_complete": payload_at_complete,
            "upload_complete_s": upload_s,
            "videos": len(videos),
            "probed_right": probed_right,
            "links": all(video.is_symlink() for video in videos),
            "fetched_share": swarm.uploaded_bytes() / season.size,
        }


def _probe_ok(video: Path) -> bool:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(video)],
        capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        return False
    duration = float(json.loads(probe.stdout)["format"]["duration"])
    return abs(duration - media.LIBRARY_SECONDS) < 1


def listing(cache: Path, work: Path) -> Result:
    watch = work / "arr-listing-watch"
    write_tiny_library(watch, cache / "tiny-library", LISTED_TORRENTS)
    with _library(work, "listing", watch) as (mount, api):
        times = []
        for _ in range(LISTING_CALLS):
            start = time.monotonic()
            listed = api.get("/torrents/info").json()
            times.append(time.monotonic() - start)
        status = read_library_status(mount.mountpoint)
        started = sum(torrent["status"] is not None for torrent in status["torrents"])
    return {
        "torrents": len(listed),
        "median_s": statistics.median(times),
        "started": started,
    }


def table(added: Result | None, listed: Result | None) -> str:
    rows = []
    if added is not None and "error" not in added:
        a = added
        rows += [
            ("a magnet added: its metadata in the mount (s)", f"{a['metadata_s']:.2f}"),
            ("then complete in `torrents/info` (s after the metadata)",
             f"{a['complete_after_metadata_s']:.2f}"),
            ("payload the seeders sent by then (bytes)", f"{a['payload_at_complete']}"),
            ("a `.torrent` upload complete (s after the request)",
             f"{a['upload_complete_s']:.2f}"),
            (f"import of {a['videos']} videos: symlinks, probed right",
             f"{'yes' if a['links'] else 'no'}, {a['probed_right']} of {a['videos']}"),
            ("import: share of the season fetched", f"{a['fetched_share']:.1%}"),
        ]  # fmt: skip
    if listed is not None and "error" not in listed:
        rows += [
            (f"`torrents/info` of {listed['torrents']} torrents (ms, median)",
             f"{listed['median_s'] * 1000:.0f}"),
            ("torrents it started", f"{listed['started']}"),
        ]  # fmt: skip
    if not rows:
        return "(not run)"
    return "\n".join(
        ["| figure | torrentfs |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    )


def targets(added: Result | None, listed: Result | None) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    if added is not None and "error" not in added:
        a = added
        rows += [
            ("API magnet complete within 1 s of its metadata",
             f"{a['complete_after_metadata_s']:.2f} s",
             a["complete_after_metadata_s"] <= MAGNET_COMPLETE_WITHIN_S),
            ("API `.torrent` upload complete within 0.5 s", f"{a['upload_complete_s']:.2f} s",
             a["upload_complete_s"] <= UPLOAD_COMPLETE_WITHIN_S),
            ("*arr import of a 20-video season fetches at most 10%",
             f"{a['fetched_share']:.1%}, {a['probed_right']}/{a['videos']} probed right",
             a["fetched_share"] <= IMPORT_FETCHES_AT_MOST
             and a["probed_right"] == a["videos"] and a["links"]),
        ]  # fmt: skip
    if listed is not None and "error" not in listed:
        rows.append(
            (
                f"`torrents/info` of {LISTED_TORRENTS} within 200 ms, starting none",
                f"{listed['median_s'] * 1000:.0f} ms, {listed['started']} started",
                listed["median_s"] <= LISTING_WITHIN_S and listed["started"] == 0,
            )
        )
    return rows
