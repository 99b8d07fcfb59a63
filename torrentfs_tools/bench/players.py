"""Real players and a media server on a mount: mpv over its JSON IPC, VLC and minidlna.

mpv (`--vo=null --ao=null`) measures the time to the first frame, a seek
sequence timed until playback restarts, and what the client fetched during
a 60 s pause. VLC runs as another user on an `allow_other` mount, as a
media player started by someone other than the one who mounted. minidlna
scans the video library as its own user and reads every video's duration.
"""

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from torrentfs.core.closing import Closing
from torrentfs_tools.bench.clients import FuseClient
from torrentfs_tools.bench.media import BenchContent
from torrentfs_tools.bench.swarm import Swarm

Result = dict[str, Any]

SEEKS_S = (30, 90, 10, 60, 45, 100)
# Issue 26's targets for mpv's seeks, through the mount and over HTTP.
SEEK_MEDIAN_TARGET_S = 0.8
SEEK_LONGEST_TARGET_S = 1.5
# Played between seeks, and before the pause.
PLAY_BETWEEN_S = 2.0
PAUSE_S = 60.0
# mpv's demuxer cache, smaller than the 116 MB movie, so that a pause can be
# measured against a bound (mpv's default, 150 MiB, holds the whole movie).
MPV_CACHE = "32MiB"
MPV_CACHE_BYTES = 32 << 20
# mpv also keeps up to this much behind the play position (its default).
MPV_BACK_CACHE_BYTES = 50 << 20
EVENT_TIMEOUT_S = 60.0
VLC_PLAY_S = 1
VLC_USER = "nobody"
VLC_FAILURES = (b"unable to open", b"input error", b"Permission denied")
MINIDLNA_USER = "minidlna"
MINIDLNA_SCAN_LIMIT_S = 180.0
_POLL_S = 0.05


class Mpv(contextlib.AbstractContextManager["Mpv"]):
    """mpv playing one file, driven over its JSON IPC socket."""

    def __init__(self, location: str, socket_path: Path, log_path: Path) -> None:
        self._log = log_path.open("wb")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            ["mpv", "--no-config", "--vo=null", "--ao=null", "--idle=no",
             f"--input-ipc-server={socket_path}", f"--demuxer-max-bytes={MPV_CACHE}",
             "--msg-level=all=warn", location],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        while not socket_path.exists():
            if self.process.poll() is not None or time.monotonic() - self.started_at > 30:
                raise RuntimeError("mpv did not start")
            time.sleep(_POLL_S)
        self._socket = socket.socket(socket.AF_UNIX)
        self._socket.connect(str(socket_path))
        self._socket.settimeout(EVENT_TIMEOUT_S)
        self._buffer = b""

    def send(self, *command: object) -> None:
        self._socket.sendall(json.dumps({"command": list(command)}).encode() + b"\n")

    def wait_event(self, name: str) -> float:
        """Seconds until mpv reports `name` (e.g. playback-restart: a frame shows)."""
        start = time.monotonic()
        while True:
            while b"\n" not in self._buffer:
                chunk = self._socket.recv(65536)
                if not chunk:
                    raise RuntimeError("mpv went away")
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            if json.loads(line).get("event") == name:
                return time.monotonic() - start

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.send("quit")
        self._socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def first_frame_and_seeks(mpv: Mpv) -> tuple[float, list[float]]:
    """mpv's first frame, then each of SEEKS_S after PLAY_BETWEEN_S of play: seconds each."""
    first_frame_s = mpv.wait_event("playback-restart")
    seeks = []
    for target in SEEKS_S:
        time.sleep(PLAY_BETWEEN_S)
        mpv.send("seek", target, "absolute")
        seeks.append(mpv.wait_event("playback-restart"))
    return first_frame_s, seeks


def mpv_session(client: FuseClient, swarm: Swarm, movie: BenchContent) -> Result:
    """First frame, six seeks, and a 60 s pause in one mpv run."""
    name = movie.root.name
    client.start(swarm.torrent_path)
    try:
        visible_s = client.wait_visible(name)
        with Mpv(
            client.location(name), client.run_dir / "mpv.sock", client.run_dir / "mpv.log"
        ) as mpv:
            first_frame_s, seeks = first_frame_and_seeks(mpv)
            time.sleep(PLAY_BETWEEN_S)
            mpv.send("set_property", "pause", True)
            paused_at = swarm.uploaded_bytes()
            time.sleep(PAUSE_S)
            fetched_in_pause = swarm.uploaded_bytes() - paused_at
        return {
            "client": client.name,
            "visible_s": visible_s,
            "first_frame_s": first_frame_s,
            "seeks_s": seeks,
            "fetched_in_pause_bytes": fetched_in_pause,
        }
    finally:
        client.stop()


def vlc_play(client: FuseClient, swarm: Swarm, movie: BenchContent) -> Result:
    """cvlc as another user: wall time to open the movie and play its first second."""
    name = movie.root.name
    client.start(swarm.torrent_path)
    try:
        client.wait_visible(name)
        _open_to_all(client.run_dir)
        start = time.monotonic()
        played = subprocess.run(
            ["runuser", "-u", VLC_USER, "--", "cvlc", "--intf", "dummy", "--vout", "dummy",
             "--aout", "dummy", "--play-and-exit", f"--stop-time={VLC_PLAY_S}",
             client.location(name)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=EVENT_TIMEOUT_S, check=False,
        )  # fmt: skip
        return {
            "client": client.name,
            "vlc_first_second_s": time.monotonic() - start,
            # VLC also complains about D-Bus and hotkeys, which do not matter here.
            "vlc_ok": played.returncode == 0
            and not any(failure in played.stderr for failure in VLC_FAILURES),
        }
    finally:
        client.stop()


def minidlna_scan(client: FuseClient, swarm: Swarm, library: BenchContent) -> Result:
    """minidlna, as its own user, scans the mounted library until every video is in its database."""
    client.start(swarm.torrent_path)
    videos = sorted(p.relative_to(library.root) for p in library.root.rglob("*.mp4"))
    try:
        client.wait_visible(str(videos[0]))
        uploaded_before = swarm.uploaded_bytes()
        with Minidlna(client.location("").rstrip("/"), client.run_dir) as minidlna:
            with_duration = 0
            while minidlna.running_s() < MINIDLNA_SCAN_LIMIT_S:
                with_duration = minidlna.videos_with_duration()
                if with_duration >= len(videos):
                    break
                time.sleep(0.5)
            scan_s = minidlna.running_s()
        return {
            "client": client.name,
            "scan_s": scan_s,
            "videos_with_duration": with_duration,
            "videos": len(videos),
            "fetched_share": (swarm.uploaded_bytes() - uploaded_before) / library.size,
        }
    finally:
        client.stop()


class Minidlna(Closing):
    """minidlnad as user `minidlna`, building its database of one folder afresh (`-R`)."""

    def __init__(self, media_dir: str, run_dir: Path) -> None:
        """`media_dir` must be open to that user: an `allow_other` mount under `run_dir`."""
        self._db_dir, log_dir = run_dir / "minidlna-db", run_dir / "minidlna-log"
        _open_to_all(run_dir)
        for folder in (self._db_dir, log_dir):
            folder.mkdir()
            shutil.chown(folder, MINIDLNA_USER, MINIDLNA_USER)
        config = run_dir / "minidlna.conf"
        config.write_text(
            f"media_dir=V,{media_dir}\ndb_dir={self._db_dir}\nlog_dir={log_dir}\n"
            "network_interface=lo\nport=8200\ninotify=no\nfriendly_name=bench\n"
        )
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            ["minidlnad", "-d", "-f", str(config), "-u", MINIDLNA_USER, "-P",
             str(run_dir / "minidlna.pid"), "-R"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def running_s(self) -> float:
        return time.monotonic() - self._started_at

    def videos_with_duration(self) -> int:
        """Videos in its database with their duration: probed to the end of what it needs."""
        database = self._db_dir / "files.db"
        if not database.exists():
            return 0
        try:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                row = db.execute(
                    "SELECT COUNT(*) FROM DETAILS "
                    "WHERE MIME LIKE 'video/%' AND DURATION IS NOT NULL"
                ).fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0])

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=15)


def _open_to_all(run_dir: Path) -> None:
    """Let other users reach the mount: the bench's folders are private by default."""
    for folder in (run_dir, run_dir.parent):
        os.chmod(folder, os.stat(folder).st_mode | 0o011)
