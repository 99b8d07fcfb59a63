"""The DLNA server as a TV meets it, in the bench's namespace with multicast on its `lo`.

- Found: `gssdp-discover` (GUPnP) started with the mount, looking for a MediaServer: the
  time from starting torrentfs until it reports the server; at the end, whether it hears
  the goodbye.
- Browsed: a library of 1000 tiny torrents, all seeded by one default-settings seeder, and
  async-upnp-client (the library behind `upnp-client`) calling Browse: the root's 1000
  folders at once (median of five), the same in pages of 100, then every folder; the
  torrents in the swarm and the payload the seeder sent after all of it.
- Played: the playback movie from the rate-limited swarm (two default-settings seeders),
  through the `res` URL Browse gives and through `/files/`, each on a fresh mount, three
  times in turn: the first 64 KiB and `ffprobe` (medians); then mpv's first frame and
  seeks through the `res` URL, beside the HTTP face's run over `/files/`.
"""

import asyncio
import http.client
import statistics
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client_factory import UpnpFactory

from torrentfs.status import read_library_status
from torrentfs_tools.bench import media, players
from torrentfs_tools.bench.clients import TorrentfsClient
from torrentfs_tools.bench.scenarios import Result
from torrentfs_tools.bench.swarm import SEEDER_RATE_BYTES_S, Swarm
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import MountProcess, Seeder, tiny_torrents

HOST = "127.0.0.1"
SEEDER_ADDRESS = "127.0.0.2"
TORRENTS = 1000
PAGE = 100
TIMED_BROWSES = 5
STARTS = 3
FIRST_BYTES = 64 << 10
DISCOVER_LIMIT_S = 10
MEDIA_SERVER = "urn:schemas-upnp-org:device:MediaServer:1"
CONTENT_DIRECTORY = "urn:schemas-upnp-org:service:ContentDirectory:1"
DIDL = "{urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/}"
# Targets (issue 28).
FOUND_WITHIN_S = 2.0
ROOT_WITHIN_S = 0.3
SLACK_S = 0.05

DESCRIPTION = __doc__.split("\n\n", 1)[1] if __doc__ else ""


def multicast_on_loopback() -> None:
    """SSDP on the namespace's `lo`: it carries multicast and the group's route."""
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
    subprocess.run(["ip", "route", "replace", "239.0.0.0/8", "dev", "lo"], check=True)


def library(cache: Path, work: Path) -> Result:
    watch, content = work / "dlna-watch", cache / "tiny-library"
    watch.mkdir()
    tiny = tiny_torrents(content, TORRENTS)
    for index, data in enumerate(tiny):
        (watch / f"{index:04d}.torrent").write_bytes(data)
    mountpoint = work / "dlna-mnt"
    mountpoint.mkdir()
    port = free_port(HOST)
    description = f"http://{HOST}:{port}/dlna/device.xml"
    with Seeder(tiny[0], content, SEEDER_ADDRESS, tick_interval_ms=None) as seeder:
        for data in tiny[1:]:
            seeder.seed(data, content)
        args = ("--http", str(port), "--dlna", "--peer", seeder.peer,
                "--cache-dir", str(work / "dlna-cache"))  # fmt: skip
        discover = _discover("available")
        with MountProcess(str(watch), mountpoint, args, work / "dlna.log") as mount:
            found_s = _seen_after(discover, mount.started_at)
            mount.wait_mounted()
            browsed = asyncio.run(_browse_all(description))
            in_swarm = sum(
                t["status"] is not None for t in read_library_status(mountpoint)["torrents"]
            )
            sent = seeder.uploaded_bytes()
            goodbye = _discover("unavailable")
            time.sleep(1)
            mount.unmount()
            heard_goodbye = _seen_after(goodbye, time.monotonic()) is not None
    return {
        "client": "torrentfs",
        "found_s": found_s,
        **browsed,
        "in_swarm": in_swarm,
        "payload_bytes": sent,
        "heard_goodbye": heard_goodbye,
    }


def _discover(kind: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["gssdp-discover", "-i", "lo", "-m", kind, f"--timeout={DISCOVER_LIMIT_S}",
         "-t", MEDIA_SERVER],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _seen_after(discover: subprocess.Popen[str], since: float) -> float | None:
    """Seconds from `since` until `discover` reports a resource; None if it never does."""
    assert discover.stdout is not None
    for line in discover.stdout:
        if line.startswith("resource "):
            seen = time.monotonic() - since
            discover.kill()
            discover.wait()
            return seen
    discover.wait()
    return None


async def _browse_all(description: str) -> dict[str, Any]:
    requester = AiohttpRequester(timeout=30)
    device = await UpnpFactory(requester).async_create_device(description)
    browse = device.service(CONTENT_DIRECTORY).action("Browse")

    async def call(object_id: str, start: int, count: int) -> dict[str, Any]:
        out = await browse.async_call(
            ObjectID=object_id, BrowseFlag="BrowseDirectChildren", Filter="*",
            StartingIndex=start, RequestedCount=count, SortCriteria="",
        )  # fmt: skip
        return dict(out)

    times, whole = [], {}
    for _ in range(TIMED_BROWSES):
        start = time.monotonic()
        whole = await call("0", 0, 0)
        times.append(time.monotonic() - start)
    ids = [o.get("id") for o in ET.fromstring(whole["Result"])]
    paged: list[str | None] = []
    for first in range(0, int(whole["TotalMatches"]), PAGE):
        page = await call("0", first, PAGE)
        paged += [o.get("id") for o in ET.fromstring(page["Result"])]
    start = time.monotonic()
    for object_id in ids:
        await call(str(object_id), 0, 0)
    every_s = time.monotonic() - start
    return {
        "root_s": statistics.median(times),
        "total_matches": int(whole["TotalMatches"]),
        "returned": int(whole["NumberReturned"]),
        "pages_add_up": paged == ids,
        "every_folder_s": every_s,
    }


def start_up(cache: Path, work: Path) -> Result:
    """The movie's first 64 KiB and `ffprobe` through the `res` URL and through `/files/`,
    each on a fresh mount and swarm, STARTS times each in turn (one start against a seeder
    that hands out bandwidth every 500 ms is mostly luck); mpv on the `res` URL once."""
    movie = media.movie(cache)
    timed: dict[str, list[tuple[float, float]]] = {"res": [], "files": []}
    first_frame_s, seeks = 0.0, list[float]()
    for run in range(STARTS):
        for face in ("res", "files"):
            run_dir = work / f"dlna-start-{face}-{run}"
            run_dir.mkdir()
            port = free_port(HOST)
            client = TorrentfsClient(run_dir, ("--http", str(port), "--dlna"), name="dlna")
            with Swarm(movie, run_dir, SEEDER_RATE_BYTES_S, tick_interval_ms=None) as swarm:
                client.start(swarm.torrent_path)
                try:
                    client.wait_visible(movie.root.name)
                    url = (_res_url(port) if face == "res"
                           else f"http://{HOST}:{port}/files/{quote(movie.root.name)}")  # fmt: skip
                    timed[face].append(_first_bytes_and_probe(url))
                    if face == "res" and run == 0:
                        with players.Mpv(url, run_dir / "mpv.sock", run_dir / "mpv.log") as mpv:
                            first_frame_s, seeks = players.first_frame_and_seeks(mpv)
                finally:
                    client.stop()
    return {
        "face": "dlna",
        "first_64k_s": statistics.median(first for first, _ in timed["res"]),
        "ffprobe_s": statistics.median(probe for _, probe in timed["res"]),
        "files_first_64k_s": statistics.median(first for first, _ in timed["files"]),
        "files_ffprobe_s": statistics.median(probe for _, probe in timed["files"]),
        "first_frame_s": first_frame_s,
        "median_seek_s": statistics.median(seeks),
        "seeks_s": seeks,
    }


def _first_bytes_and_probe(url: str) -> tuple[float, float]:
    start = time.monotonic()
    _first_bytes(url)
    first_s = time.monotonic() - start
    start = time.monotonic()
    subprocess.run(["ffprobe", "-v", "error", url], check=True, timeout=120)
    return first_s, time.monotonic() - start


def _res_url(port: int) -> str:
    """The movie's `res` URL, as Browse gives it (a single torrent: the root holds it)."""
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<s:Body><u:Browse xmlns:u="{CONTENT_DIRECTORY}"><ObjectID>0</ObjectID>'
        "<BrowseFlag>BrowseDirectChildren</BrowseFlag><StartingIndex>0</StartingIndex>"
        "<RequestedCount>0</RequestedCount></u:Browse></s:Body></s:Envelope>"
    )
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("POST", "/dlna/control/ContentDirectory", body,
                           {"content-type": "text/xml",
                            "soapaction": f'"{CONTENT_DIRECTORY}#Browse"'})  # fmt: skip
        answer = ET.fromstring(connection.getresponse().read())
    finally:
        connection.close()
    result = ET.fromstring(answer.findtext(".//Result") or "")
    return next(r.text for r in result.iter(f"{DIDL}res") if r.text)


def _first_bytes(url: str) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(HOST, parts.port, timeout=120)
    try:
        connection.request("GET", parts.path, headers={"range": f"bytes=0-{FIRST_BYTES - 1}"})
        connection.getresponse().read()
    finally:
        connection.close()


def table(found: Result | None, started: Result | None, http_start: Result | None) -> str:
    if found is None or "error" in found:
        return f"failed: {found['error']}" if found else "(not run)"
    rows = [
        ("gssdp-discover sees the server, from starting torrentfs (s)",
         "never" if found["found_s"] is None else f"{found['found_s']:.2f}"),
        (f"Browse of the root: {found['returned']} of {found['total_matches']} folders, "
         "median of five (ms)", f"{found['root_s'] * 1000:.0f}"),
        (f"pages of {PAGE} add up to the whole", "yes" if found["pages_add_up"] else "NO"),
        (f"Browse of each of the {TORRENTS} folders, one after another (s)",
         f"{found['every_folder_s']:.1f}"),
        ("then: torrents in the swarm / payload sent", f"{found['in_swarm']} / "
         f"{found['payload_bytes']} B"),
        ("the goodbye heard at the stop", "yes" if found["heard_goodbye"] else "NO"),
    ]  # fmt: skip
    if started is not None and "error" not in started:
        rows += [
            (f"first 64 KiB, median of {STARTS}: via `res` (via `/files/`) (s)",
             f"{started['first_64k_s']:.2f} ({started['files_first_64k_s']:.2f})"),
            (f"`ffprobe`, median of {STARTS}: via `res` (via `/files/`) (s)",
             f"{started['ffprobe_s']:.2f} ({started['files_ffprobe_s']:.2f})"),
            ("mpv via `res`: first frame, median seek (s)",
             f"{started['first_frame_s']:.2f}, {started['median_seek_s']:.2f}"),
            ("mpv seeks via `res` (s)", " ".join(f"{s:.2f}" for s in started["seeks_s"])),
        ]  # fmt: skip
        if http_start is not None:
            rows.append(("mpv over `/files/` (the HTTP face's run): median seek (s)",
                         f"{http_start['median_seek_s']:.2f}"))  # fmt: skip
    lines = ["| figure | torrentfs |", "| --- | --- |"]
    return "\n".join([*lines, *(f"| {a} | {b} |" for a, b in rows)])


def targets(
    found: Result | None, started: Result | None, http_start: Result | None
) -> list[tuple[str, str, bool]]:
    checks: list[tuple[str, str, bool]] = []
    if found is not None and "error" not in found:
        seen = found["found_s"]
        checks += [
            (f"DLNA: gssdp-discover sees the server within {FOUND_WITHIN_S:g} s of start",
             "never" if seen is None else f"{seen:.2f}",
             seen is not None and seen <= FOUND_WITHIN_S),
            (f"DLNA: Browse of the root of {TORRENTS} within 300 ms, TotalMatches {TORRENTS}, "
             "pages add up", f"{found['root_s'] * 1000:.0f} ms, {found['total_matches']}",
             found["root_s"] <= ROOT_WITHIN_S and found["total_matches"] == TORRENTS
             and found["pages_add_up"]),
            ("DLNA: every folder browsed: 0 torrents in the swarm, 0 payload bytes",
             f"{found['in_swarm']}, {found['payload_bytes']}",
             found["in_swarm"] == 0 and found["payload_bytes"] == 0),
            ("DLNA: the goodbye heard", "yes" if found["heard_goodbye"] else "no",
             found["heard_goodbye"]),
        ]  # fmt: skip
    if started is not None and "error" not in started:
        for label, key in (("first 64 KiB", "first_64k_s"), ("ffprobe", "ffprobe_s")):
            checks.append((
                f"DLNA `res` URL: {label} within the same over `/files/` + 50 ms "
                f"(medians of {STARTS})",
                f"{started[key]:.2f} / {started['files_' + key]:.2f}",
                started[key] <= started["files_" + key] + SLACK_S,
            ))  # fmt: skip
        if http_start is not None:
            checks.append((
                "DLNA `res` URL: mpv median seek within the same over `/files/`",
                f"{started['median_seek_s']:.2f} / {http_start['median_seek_s']:.2f}",
                started["median_seek_s"] <= http_start["median_seek_s"],
            ))  # fmt: skip
    return checks
