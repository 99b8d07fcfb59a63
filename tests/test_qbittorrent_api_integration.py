"""The qBittorrent Web API over a library, as the *arr tools and scripts drive it: the
`qbittorrent-api` package as a user's script uses it, a replay of what Sonarr's
`QBittorrentProxyV2` sends (its requests, form fields and the JSON fields and types its
code reads), and the *arr import end to end: add by URL, complete, move the symlinks,
ffprobe the moved file.

Real library mounts with --http on loopback, a loopback HTTP server serving `.torrent`
files as an indexer's download link does.
"""

import contextlib
import functools
import http.client
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import qbittorrentapi
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import live_fuzz, until
from torrentfs_tools.demo import SAMPLE_SECONDS, make_sample
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import MountProcess, Seeder, info_hash_of, magnet_for, make_torrent

pytestmark = pytest.mark.mount

HOST = "127.0.0.1"
INDEXER_ADDRESS = "127.0.0.4"
USER, PASSWORD = "sonarr", "pa55word"
WITHIN_S = 30.0
COMPLETED_STATES = {"pausedUP", "uploading", "stalledUP", "queuedUP", "forcedUP"}
FUZZ_EXAMPLES = 100
HUGE_BYTES = 100 << 20
# Longer than the fetch's own timeout (torrent_fetch.FETCH_TIMEOUT_S).
HANG_S = 25.0


class _IndexerHandler(http.server.SimpleHTTPRequestHandler):
    """The files of a folder, and the links an indexer gets wrong: one redirecting to itself,
    one answering 100 MB, one that never answers."""

    def do_GET(self) -> None:
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif self.path == "/huge.torrent":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE_BYTES))
            self.end_headers()
            chunk = b"d" + b"0" * ((1 << 20) - 1)
            with contextlib.suppress(OSError):
                for _ in range(HUGE_BYTES >> 20):
                    self.wfile.write(chunk)
        elif self.path == "/hang":
            time.sleep(HANG_S)
        else:
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def _indexer(folder: Path) -> Iterator[str]:
    """A loopback HTTP server handing out the files of `folder`, as an indexer's links do."""
    handler = functools.partial(_IndexerHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((INDEXER_ADDRESS, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{INDEXER_ADDRESS}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Sonarr:
    """HTTP as Sonarr's proxy speaks it: form posts, a SID cookie after login."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def call(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        target = path + ("?" + urlencode(query) if query else "")
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, target, body=body, headers=headers)
        answer = connection.getresponse()
        text = answer.read().decode()
        cookie = answer.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        connection.close()
        return answer.status, text

    def json(self, path: str, **query: str) -> Any:
        status, text = self.call("GET", path, query=query)
        assert status == 200, (path, status, text)
        return json.loads(text)


def _library(tmp_path: Path, mount, *extra: str) -> tuple[MountProcess, int, Path, Path]:
    watch = tmp_path / "watch"
    watch.mkdir()
    links = tmp_path / "links"
    port = free_port(HOST)
    mounted = mount(
        watch, "--http", str(port), "--http-user", USER, "--http-password", PASSWORD,
        "--symlink-dir", str(links), *extra,
    )  # fmt: skip
    return mounted, port, watch, links


def test_a_script_with_qbittorrent_api_adds_completes_lists_and_removes(
    single_file, mount, tmp_path
):
    mounted, port, _, links = _library(tmp_path, mount)
    with Seeder(single_file.data, single_file.parent) as seeder:
        client = qbittorrentapi.Client(host=HOST, port=port, username=USER, password=PASSWORD)
        client.auth_log_in()
        magnet = magnet_for(single_file.data, [seeder.endpoint]) + "&dn=Film"
        assert client.torrents_add(urls=magnet, category="movies") == "Ok."
        info_hash = info_hash_of(single_file.data)

        def complete() -> bool:
            found = client.torrents_info(category="movies")
            return bool(found) and found[0].state in COMPLETED_STATES and found[0].progress == 1

        assert until(complete, WITHIN_S)
        [torrent] = client.torrents_info(torrent_hashes=info_hash)
        assert torrent.category == "movies" and torrent.name == "Film"
        assert torrent.save_path == str(links / "movies")
        assert torrent.content_path == str(links / "movies" / "Film")
        [file] = client.torrents_files(torrent_hash=info_hash)
        assert (file.name, file.size) == ("Film/movie.bin", single_file.root.stat().st_size)
        link = links / "movies" / "Film" / "movie.bin"
        assert os.readlink(link) == str(mounted.mountpoint.resolve() / "movies/Film/movie.bin")
        with link.open("rb") as handle:
            assert handle.read(70_000) == single_file.root.read_bytes()[:70_000]
        assert seeder.uploaded_bytes() < single_file.root.stat().st_size
        client.torrents_delete(delete_files=True, torrent_hashes=info_hash)
        assert until(lambda: not client.torrents_info(), WITHIN_S)
        assert not link.exists() and not link.is_symlink()
    assert mounted.unmount() == 0


def test_what_sonarr_sends_is_answered_as_its_code_reads_it(multi_file, mount, tmp_path):
    mounted, port, _, links = _library(tmp_path, mount)
    sonarr = _Sonarr(port)
    # "Test" in Sonarr's download client settings.
    assert sonarr.call("GET", "/api/v2/app/webapiVersion")[0] == 403  # v2, login needed
    assert sonarr.call("POST", "/api/v2/auth/login", {"username": USER, "password": PASSWORD}) == (
        200,
        "Ok.",
    )
    version = sonarr.call("GET", "/api/v2/app/webapiVersion")[1]
    assert tuple(int(part) for part in version.split(".")) >= (2, 6, 1)
    assert sonarr.call("GET", "/api/v2/app/version")[1].startswith("v")
    preferences = sonarr.json("/api/v2/app/preferences")
    assert isinstance(preferences, dict)
    assert isinstance(preferences["save_path"], str)
    for key in ("max_ratio_enabled", "max_seeding_time_enabled", "queueing_enabled", "dht"):
        assert isinstance(preferences[key], bool), key
    assert isinstance(preferences["max_ratio"], int | float)
    assert isinstance(preferences["max_ratio_act"], int)
    assert sonarr.json("/api/v2/torrents/categories") == {}
    assert sonarr.call("POST", "/api/v2/torrents/createCategory", {"category": "tv"})[0] == 200
    assert sonarr.json("/api/v2/torrents/categories") == {
        "tv": {"name": "tv", "savePath": str(links / "tv")}
    }
    assert sonarr.json("/api/v2/torrents/info", category="tv") == []

    # A grab: the indexer's link, then what Sonarr sets on the new torrent.
    (tmp_path / "indexer").mkdir()
    shutil.copy(multi_file.torrent_path, tmp_path / "indexer" / "album.torrent")
    info_hash = info_hash_of(multi_file.data)
    with _indexer(tmp_path / "indexer") as indexer:
        form = {"urls": f"{indexer}/album.torrent", "category": "tv", "paused": "false"}
        assert sonarr.call("POST", "/api/v2/torrents/add", form) == (200, "Ok.")
    assert sonarr.call("GET", "/api/v2/torrents/properties", query={"hash": info_hash})[0] == 200
    limits = {"hashes": info_hash, "ratioLimit": "-2", "seedingTimeLimit": "-2"}
    assert sonarr.call("POST", "/api/v2/torrents/setShareLimits", limits)[0] == 200
    assert sonarr.call("POST", "/api/v2/torrents/topPrio", {"hashes": info_hash})[0] == 409
    force = {"hashes": info_hash, "value": "true"}
    assert sonarr.call("POST", "/api/v2/torrents/setForceStart", force)[0] == 200

    # Tracking: every field Sonarr's QBittorrentTorrent reads, of the type it reads.
    [torrent] = sonarr.json("/api/v2/torrents/info", category="tv")
    assert torrent["hash"] == info_hash and torrent["name"] == "Album"
    assert isinstance(torrent["size"], int) and torrent["size"] == sum(
        len(data) for data in multi_file.files().values()
    )
    assert torrent["progress"] == 1 and torrent["state"] in COMPLETED_STATES
    assert isinstance(torrent["eta"], int) and isinstance(torrent["ratio"], int | float)
    assert torrent["category"] == "tv"
    assert torrent["save_path"] == str(links / "tv")
    assert torrent["content_path"] == str(links / "tv" / "Album") != torrent["save_path"]
    properties = sonarr.json("/api/v2/torrents/properties", hash=info_hash)
    assert isinstance(properties, dict) and properties["save_path"] == str(links / "tv")
    files = sonarr.json("/api/v2/torrents/files", hash=info_hash)
    assert isinstance(files, list) and len(files) == len(multi_file.files())
    assert {f["name"] for f in files} == {f"Album/{name}" for name in multi_file.files()}
    assert all(isinstance(f["size"], int) and isinstance(f["progress"], int | float)
               for f in files)  # fmt: skip
    # No seeder here: the symlink names the mount's file, which is not read.
    cover = links / "tv" / "Album" / "cover.jpg"
    assert os.readlink(cover) == str(mounted.mountpoint.resolve() / "tv/Album/cover.jpg")

    # Removal, and what qBittorrent answers for what it does not know.
    assert sonarr.call("GET", "/api/v2/torrents/properties", query={"hash": "0" * 40})[0] == 404
    assert sonarr.call("GET", "/api/v2/sync/nothing")[0] == 404
    removed = {"hashes": info_hash, "deleteFiles": "true"}
    assert sonarr.call("POST", "/api/v2/torrents/delete", removed)[0] == 200
    assert until(lambda: sonarr.json("/api/v2/torrents/info") == [], WITHIN_S)
    assert not (links / "tv" / "Album").exists()
    assert mounted.unmount() == 0


def test_failed_logins_get_fails_then_the_address_is_banned(mount, tmp_path):
    mounted, port, _, _ = _library(tmp_path, mount, "--http-ban", "1h")
    sonarr = _Sonarr(port)
    for _ in range(5):
        assert sonarr.call("POST", "/api/v2/auth/login", {"username": USER, "password": "x"}) == (
            200,
            "Fails.",
        )
    right = {"username": USER, "password": PASSWORD}
    assert sonarr.call("POST", "/api/v2/auth/login", right)[0] == 403
    assert sonarr.call("GET", "/api/v2/torrents/info")[0] == 403
    assert mounted.unmount() == 0


def test_with_the_loopback_bypass_a_local_client_needs_no_login(mount, tmp_path):
    mounted, port, _, _ = _library(tmp_path, mount, "--http-open-on-loopback")
    sonarr = _Sonarr(port)  # never logs in
    assert sonarr.json("/api/v2/app/preferences")["bypass_local_auth"] is True
    assert sonarr.call("POST", "/api/v2/torrents/createCategory", {"category": "tv"})[0] == 200
    assert "tv" in sonarr.json("/api/v2/torrents/categories")
    assert mounted.unmount() == 0


def test_bad_adds_fail_whole_and_leave_nothing(multi_file, mount, tmp_path):
    """Server paths among them: a real .torrent on the server's disk is never read into
    the library, whatever the client calls it."""
    mounted, port, watch, _ = _library(tmp_path, mount)
    server_file = multi_file.torrent_path.resolve()
    relative = os.path.relpath(server_file, watch)
    sonarr = _Sonarr(port)
    sonarr.call("POST", "/api/v2/auth/login", {"username": USER, "password": PASSWORD})
    (tmp_path / "indexer").mkdir()
    (tmp_path / "indexer" / "bad.torrent").write_bytes(b"<html>not a torrent</html>")
    with _indexer(tmp_path / "indexer") as indexer:
        for url in (f"{indexer}/bad.torrent", f"{indexer}/missing.torrent",
                    f"{indexer}/loop", f"{indexer}/huge.torrent", f"{indexer}/hang",
                    "ftp://127.0.0.1/x.torrent", "file:///etc/passwd", str(server_file),
                    relative, f"file://{server_file}"):  # fmt: skip
            answer = sonarr.call("POST", "/api/v2/torrents/add", {"urls": url, "category": "tv"})
            assert answer == (200, "Fails."), url
    assert not [path for path in watch.rglob("*") if path.is_file()]
    cross = http.client.HTTPConnection(HOST, port, timeout=30)
    cross.request(
        "POST", "/api/v2/torrents/createCategory", body="category=x",
        headers={"Origin": "http://evil.example", "Cookie": sonarr.cookie,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert cross.getresponse().status == 403
    assert mounted.unmount() == 0


FORM_TEXT = st.text(max_size=30)


@live_fuzz(FUZZ_EXAMPLES)
@given(
    field=st.sampled_from(["urls", "category", "hashes", "deleteFiles", "paused", "tags"]),
    value=FORM_TEXT,
    endpoint=st.sampled_from(["/api/v2/torrents/add", "/api/v2/torrents/delete"]),
)
def test_any_form_field_gets_an_answer_never_a_server_error(qbt_library, field, value, endpoint):
    sonarr, _ = qbt_library
    status, _ = sonarr.call("POST", endpoint, {field: value})
    assert status in (200, 400, 409), (field, value, status)


@pytest.fixture
def qbt_library(mount, tmp_path):
    mounted, port, watch, _ = _library(tmp_path, mount)
    sonarr = _Sonarr(port)
    sonarr.call("POST", "/api/v2/auth/login", {"username": USER, "password": PASSWORD})
    yield sonarr, watch
    assert mounted.unmount() == 0


def test_the_arr_import_moves_symlinks_and_probes_without_fetching_the_files(mount, tmp_path):
    season = tmp_path / "Show S01"
    season.mkdir()
    video = make_sample(season)
    shutil.copy(video, season / "Show S01E02.mp4")
    video.rename(season / "Show S01E01.mp4")
    torrent = make_torrent(season, 256 << 10)
    total = sum(path.stat().st_size for path in season.iterdir())
    (tmp_path / "indexer").mkdir()
    (tmp_path / "indexer" / "season.torrent").write_bytes(torrent)
    media = tmp_path / "media" / "Show"
    media.parent.mkdir()
    with Seeder(torrent, tmp_path) as seeder, _indexer(tmp_path / "indexer") as indexer:
        mounted, port, _, _ = _library(tmp_path, mount, "--peer", seeder.peer)
        client = qbittorrentapi.Client(host=HOST, port=port, username=USER, password=PASSWORD)
        assert client.torrents_add(urls=f"{indexer}/season.torrent", category="tv") == "Ok."
        assert until(lambda: bool(client.torrents_info(category="tv")), WITHIN_S)
        [found] = client.torrents_info(category="tv")
        assert found.progress == 1 and found.state in COMPLETED_STATES
        assert seeder.uploaded_bytes() == 0  # complete, and nothing downloaded
        # The *arr move the completed folder into the media library: a rename of symlinks.
        shutil.move(found.content_path, media)
        for name in ("Show S01E01.mp4", "Show S01E02.mp4"):
            moved = media / name
            assert moved.is_symlink()
            probe = subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json",
                 str(moved)],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert probe.returncode == 0, probe.stderr
            duration = float(json.loads(probe.stdout)["format"]["duration"])
            assert abs(duration - SAMPLE_SECONDS) < 1
        # Probing reads heads and tails: the season is not fetched whole.
        assert 0 < seeder.uploaded_bytes() < total
        assert mounted.unmount() == 0
