"""The HTTP face on real mounts, asked by clients nobody here wrote: curl for ranges and
forms, ffprobe over http://, rclone and webdav4 over WebDAV; and the bad input a server on
a network meets (malformed ranges, paths out of the tree, credentials, cross-origin posts,
clients that go away or never speak).

Every server binds 127.0.0.x; every request goes there.
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import SampleTorrent, live_fuzz, until
from torrentfs_tools.demo import make_sample
from torrentfs_tools.foreign import free_port
from torrentfs_tools.loopback import CHROMIUM_LOOPBACK_FLAGS, Seeder, make_torrent

pytestmark = pytest.mark.mount

HOST = "127.0.0.1"
FLAC = "CD1/01 - Überture.flac"
WITHIN_S = 30.0
IDLE_CONNECTIONS = 50
POLL_S = 0.1
PASSWORD = "s3cret"
# Range headers the fuzz test throws at a live server: bounded, and over by itself.
FUZZ_EXAMPLES = 150


def _curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60, check=False)


def _request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body:
            connection.putheader("content-length", str(len(body)))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def _until(condition, limit_s: float = WITHIN_S) -> bool:
    return until(condition, limit_s, POLL_S)


@pytest.fixture
def album(multi_file: SampleTorrent, mount):
    """The multi-file torrent mounted with --http on a free loopback port, and its seeder."""
    port = free_port(HOST)
    with Seeder(multi_file.data, multi_file.parent) as seeder:
        mounted = mount(multi_file.torrent_path, "--peer", seeder.peer, "--http", str(port))
        yield mounted, port, f"http://{HOST}:{port}"
        assert mounted.unmount() == 0


def test_files_stream_with_ranges_validators_and_types(album, multi_file):
    _, port, base = album
    expected = multi_file.files()[FLAC]
    url = f"{base}/files/CD1/01%20-%20%C3%9Cberture.flac"
    ranged = _curl("-r", "1000-70999", "-D", "-", url)
    head, _, body = ranged.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206"), head
    assert body == expected[1000:71000]
    assert f"content-range: bytes 1000-70999/{len(expected)}".encode() in head.lower()
    whole = _curl(url)
    assert whole.stdout == expected
    status, headers, _ = _request(port, "HEAD", "/files/cover.jpg")
    assert status == 200 and headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "image/jpeg" and headers["content-length"] == "70001"
    again = _request(port, "HEAD", "/files/cover.jpg")[1]
    assert (headers["etag"], headers["last-modified"]) == (again["etag"], again["last-modified"])
    assert (
        _request(port, "GET", "/files/cover.jpg", {"range": "bytes=-100"})[2]
        == (multi_file.files()["cover.jpg"][-100:])
    )
    status, headers, _ = _request(port, "GET", "/files/cover.jpg", {"range": "bytes=70001-"})
    assert (status, headers["content-range"]) == (416, "bytes */70001")
    # A validator of another version: the whole file, not the range.
    stale = {"range": "bytes=0-9", "if-range": '"other"'}
    assert _request(port, "GET", "/files/cover.jpg", stale)[0] == 200
    folder = _curl(f"{base}/files/CD1/").stdout.decode()
    assert "01%20-%20%C3%9Cberture.flac" in folder and "extras/" in folder


def test_paths_outside_the_tree_are_not_found(album):
    _, port, _ = album
    for path in (
        "/files/..",
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/CD1%2f..%2f..%2fetc",
        "/files/CD1\\..\\cover.jpg",
        "/files/cover.jpg%00",
        "/files//etc/passwd",
        "/files/" + "a" * 5000,
        "/dav/%2e%2e/",
    ):
        status, _, body = _request(port, "GET", path)
        assert status in (400, 404), (path, status)
        assert b"root:" not in body


def test_webdav_lists_without_reading_and_rclone_copies_every_byte(album, multi_file, tmp_path):
    _, port, base = album
    status, headers, _ = _request(port, "OPTIONS", "/dav/")
    assert status == 200 and headers["dav"] == "1"
    assert _request(port, "PROPFIND", "/dav/", {"depth": "infinity"})[0] == 403
    assert _request(port, "PUT", "/dav/new.txt", body=b"x")[0] == 405
    assert _request(port, "DELETE", "/dav/cover.jpg")[0] == 405
    status, _, body = _request(port, "PROPFIND", "/dav/CD1/", {"depth": "1"})
    assert status == 207 and b"01%20-%20%C3%9Cberture.flac" in body
    copy = tmp_path / "copy"
    result = subprocess.run(
        ["rclone", "copy", "--webdav-url", f"{base}/dav", ":webdav:", str(copy),
         "--config", "/dev/null", "--transfers", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for relative, data in multi_file.files().items():
        assert (copy / relative).read_bytes() == data, relative


def test_a_second_webdav_client_lists_and_reads(album, multi_file):
    from webdav4.client import Client

    _, _, base = album
    client = Client(f"{base}/dav")
    names = sorted(entry["name"].rstrip("/").rpartition("/")[2] for entry in client.ls("/"))
    assert "cover.jpg" in names and "CD2" in names
    info = client.info("CD2/deeper/still/last.bin")
    assert info["content_length"] == 99_999
    with client.open("CD2/deeper/still/last.bin", mode="rb") as handle:
        assert handle.read() == multi_file.files()["CD2/deeper/still/last.bin"]


def test_a_client_that_goes_away_frees_its_reader_and_a_silent_one_is_closed(single_file, mount):
    port = free_port(HOST)
    with Seeder(single_file.data, single_file.parent, upload_rate_limit=200_000) as seeder:
        mounted = mount(
            single_file.torrent_path, "--peer", seeder.peer, "--http", str(port),
            "--http-timeout", "2s",
        )  # fmt: skip
        silent = socket.create_connection((HOST, port))
        connection = socket.create_connection((HOST, port))
        connection.sendall(b"GET /files/movie.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")

        def open_files() -> int:
            body = _request(port, "GET", "/api/status")[2]
            return len(json.loads(body)["open_files"])

        assert open_files() == 1
        connection.close()
        assert _until(lambda: open_files() == 0)
        # The silent connection is closed by the server; others were served meanwhile.
        silent.settimeout(WITHIN_S)
        assert silent.recv(1) == b""
        silent.close()
        assert mounted.unmount() == 0
    # A client going away is an ordinary event, not an error.
    assert "Traceback" not in mounted.log_text()


def test_a_client_stuck_in_its_headers_is_closed_and_a_long_response_is_not_cut(single_file, mount):
    """No read timeout cuts a response (a client sends nothing while one streams to it,
    and with one every response stopped after --http-timeout); a client that never
    finishes its request's headers is closed all the same."""
    port = free_port(HOST)
    original = single_file.root.read_bytes()
    with Seeder(single_file.data, single_file.parent, upload_rate_limit=2_000_000) as seeder:
        mounted = mount(
            single_file.torrent_path, "--peer", seeder.peer, "--http", str(port),
            "--http-timeout", "2s",
        )  # fmt: skip
        stuck = socket.create_connection((HOST, port))
        stuck.sendall(b"GET /files/movie.bin HTTP/1.1\r\nHost: x\r\n")
        # About 10 s at the seeder's rate: five times --http-timeout.
        assert _request(port, "GET", "/files/movie.bin")[2] == original
        stuck.settimeout(WITHIN_S)
        assert stuck.recv(1) == b""
        stuck.close()
        assert mounted.unmount() == 0
    assert "Traceback" not in mounted.log_text()


def test_connections_closed_by_their_clients_free_their_descriptors(single_file, mount):
    """Long before the keep-alive time (60 s here) that Hypercorn waited out."""
    port = free_port(HOST)
    with Seeder(single_file.data, single_file.parent) as seeder:
        mounted = mount(
            single_file.torrent_path, "--peer", seeder.peer, "--http", str(port),
            "--http-timeout", "60s",
        )  # fmt: skip
        descriptors = Path(f"/proc/{mounted.process.pid}/fd")
        assert _request(port, "GET", "/api/status")[0] == 200
        baseline = len(list(descriptors.iterdir()))
        idle = [socket.create_connection((HOST, port)) for _ in range(IDLE_CONNECTIONS)]
        assert _until(lambda: len(list(descriptors.iterdir())) >= baseline + IDLE_CONNECTIONS)
        for connection in idle:
            connection.close()
        assert _until(lambda: len(list(descriptors.iterdir())) <= baseline, 20)
        assert mounted.unmount() == 0


def test_requests_of_one_client_at_once_each_read_on_to_their_last_byte(single_file, mount):
    """A player that seeks opens the new range before it drops the old; a downloader
    reads several ranges at once; two people behind one proxy look like one client.
    Each request reads on with a reader of its own, every byte right.

    Failed before the fix (a newer request of the same client and file took the reader
    over and ended the older responses: 1 of 50 bench clients got its whole range)."""
    port = free_port(HOST)
    original = single_file.root.read_bytes()
    ranges = [(offset << 20, (offset << 20) + 999_999) for offset in (2, 9, 5, 14)]
    with Seeder(single_file.data, single_file.parent, upload_rate_limit=400_000) as seeder:
        mounted = mount(single_file.torrent_path, "--peer", seeder.peer, "--http", str(port))
        player = socket.create_connection((HOST, port))
        player.sendall(b"GET /files/movie.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        first = player.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        with concurrent.futures.ThreadPoolExecutor(len(ranges)) as pool:
            answers = list(pool.map(
                lambda span: _request(
                    port, "GET", "/files/movie.bin", {"Range": "bytes={}-{}".format(*span)}
                ),
                ranges,
            ))  # fmt: skip
        for (start, end), (status, _, body) in zip(ranges, answers, strict=True):
            assert status == 206 and body == original[start : end + 1]
        # The first request read on all along, to its last byte.
        received = first.split(b"\r\n\r\n", 1)[1]
        player.settimeout(WITHIN_S)
        while len(received) < len(original) and (more := player.recv(1 << 20)):
            received += more
        assert received == original
        player.close()
        assert mounted.unmount() == 0
    assert "Traceback" not in mounted.log_text()


def test_ffprobe_plays_over_http_and_playlists_name_every_video(mount, tmp_path):
    folder = tmp_path / "show"
    folder.mkdir()
    video = make_sample(folder)
    shutil.copy(video, folder / "episode 2.mp4")
    torrent = make_torrent(folder, 256 << 10)
    port = free_port(HOST)
    with Seeder(torrent, tmp_path) as seeder:
        path = tmp_path / "show.torrent"
        path.write_bytes(torrent)
        mounted = mount(path, "--peer", seeder.peer, "--http", str(port))
        url = f"http://{HOST}:{port}/files/episode%202.mp4"
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", url],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        assert float(json.loads(probe.stdout)["format"]["duration"]) > 1
        status, headers, body = _request(port, "GET", "/playlist/")
        assert status == 200 and headers["content-type"].startswith("audio/x-mpegurl")
        lines = body.decode().splitlines()
        assert lines[0] == "#EXTM3U"
        assert url in lines and f"http://{HOST}:{port}/files/{video.name}" in lines
        assert mounted.unmount() == 0


def test_a_library_page_and_its_forms_behind_a_password(multi_file, mount, tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    shutil.copy(multi_file.torrent_path, watch / "album.torrent")
    port = free_port(HOST)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    address = "127.0.0.2"
    mounted = mount(
        watch, "--http", f"{address}:{port}", "--http-password-file", str(password_file)
    )
    base = f"http://{address}:{port}"
    wrong = _curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "torrentfs:nope",
                  f"{base}/files/Album/cover.jpg")  # fmt: skip
    assert wrong.stdout == b"401"
    assert _curl("-o", "/dev/null", "-w", "%{http_code}", f"{base}/api/status").stdout == b"401"
    status = json.loads(_curl("-u", f"torrentfs:{PASSWORD}", f"{base}/api/status").stdout)
    [album_status] = status["torrents"]
    # Refused requests started nothing.
    assert album_status["state"] == "idle" and album_status["status"] is None
    page = _curl("-u", f"torrentfs:{PASSWORD}", f"{base}/").stdout.decode()
    assert "/api/status" in page and "<form" in page
    link = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Added"
    post = ("-u", f"torrentfs:{PASSWORD}", "-o", "/dev/null", "-w", "%{http_code}")
    # A path on the server's disk is not a link: refused, never read into the library.
    server_path = ("-F", f"magnet={multi_file.torrent_path.resolve()}", f"{base}/api/add")
    assert _curl(*post, "-H", f"Origin: {base}", *server_path).stdout == b"400"
    assert sorted(os.listdir(watch)) == ["album.torrent"]
    form = ("-F", f"magnet={link}", f"{base}/api/add")
    assert _curl(*post, "-H", "Origin: http://evil.example", *form).stdout == b"403"
    assert _curl(*post, "-H", f"Origin: {base}", *form).stdout == b"303"
    assert _until(lambda: "Added" in os.listdir(mounted.mountpoint))
    assert mounted.unmount() == 0


def test_a_bind_beyond_loopback_needs_a_password(single_file, tmp_path):
    target = tmp_path / "mnt"
    target.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "torrentfs", "mount", str(single_file.torrent_path), str(target),
         "--http", "0.0.0.0:8080"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--http-password" in result.stderr
    assert not os.path.ismount(target)


RANGE_TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda unit, a, b: f"{unit}={a}-{b}",
        st.sampled_from(["bytes", "BYTES", "items", ""]),
        st.one_of(st.integers(-5, 10**12).map(str), st.just(""), st.text(max_size=4)),
        st.one_of(st.integers(-5, 10**12).map(str), st.just(""), st.text(max_size=4)),
    ),
)


@live_fuzz(FUZZ_EXAMPLES)
@given(header=RANGE_TEXT)
def test_malformed_ranges_get_200_206_or_416_never_a_server_error(album, header):
    _, port, _ = album
    clean = "".join(c for c in header if 32 <= ord(c) < 127)
    status, headers, body = _request(port, "GET", "/files/cover.jpg", {"range": clean})
    assert status in (200, 206, 416), (clean, status)
    if status == 206:
        assert len(body) == int(headers["content-length"])


@live_fuzz(FUZZ_EXAMPLES)
@given(path=st.text(max_size=60))
def test_any_path_is_a_file_a_folder_or_not_found_never_a_server_error(album, path):
    _, port, _ = album
    for prefix in ("/files/", "/dav/", "/playlist/"):
        target = prefix + quote(path, safe="/%.")
        status, _, body = _request(port, "GET", target)
        assert status in (200, 206, 400, 404), (target, status)
        assert b"root:" not in body


def test_a_browser_shows_the_library_on_the_page(single_file, multi_file, mount, tmp_path):
    watch = tmp_path / "watch"
    (watch / "music").mkdir(parents=True)
    shutil.copy(single_file.torrent_path, watch / "a.torrent")
    shutil.copy(multi_file.torrent_path, watch / "music" / "b.torrent")
    port = free_port(HOST)
    mounted = mount(watch, "--http", str(port))
    shown = subprocess.run(
        ["chromium", *CHROMIUM_LOOPBACK_FLAGS, "--virtual-time-budget=5000", "--dump-dom",
         f"http://{HOST}:{port}/"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "library of" in shown.stdout and "2 torrents" in shown.stdout
    assert 'href="/files/movie.bin/"' in shown.stdout
    assert 'href="/files/music/Album/"' in shown.stdout
    assert mounted.unmount() == 0


def test_the_page_loads_nothing_from_elsewhere():
    # The page ships in the package: no build step, nothing fetched from elsewhere.
    page = Path(__file__).parent.parent / "torrentfs" / "http" / "page.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
