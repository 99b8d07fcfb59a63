import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrentfs.core.errors import UserError
from torrentfs.core.http_bind import is_loopback_bind, parse_http_bind
from torrentfs.core.http_ranges import ByteRange, Unsatisfiable, parse_range
from torrentfs.core.playlists import is_playable, m3u
from torrentfs.core.url_paths import path_names

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=900-", ByteRange(900, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("BYTES = 5-6", ByteRange(5, 6)),
    ],
)
def test_one_range_is_served(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=5-1", "bytes=0-1,5-6",
     "bytes=a-b", "bytes=1-²", "bytes=²-", "bytes=0x10-20", "x" * 2000],
)  # fmt: skip
def test_what_does_not_parse_is_ignored(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)


@given(st.text(max_size=60), st.integers(0, 10**12))
def test_any_header_is_a_range_inside_the_file_or_none_or_unsatisfiable(header, size):
    try:
        found = parse_range(header, size)
    except Unsatisfiable:
        return
    if found is not None:
        assert 0 <= found.start <= found.end < size
        assert found.content_range(size) == f"bytes {found.start}-{found.end}/{size}"


@pytest.mark.parametrize(
    ("path", "names"),
    [("/", []), ("", []), ("/a/b.mkv", ["a", "b.mkv"]), ("/a/b/", ["a", "b"]),
     ("/a%2fb", ["a%2fb"])],
)  # fmt: skip
def test_plain_paths_are_names(path, names):
    assert path_names(path) == names


@pytest.mark.parametrize(
    "path",
    ["/..", "/a/../b", "/.", "/a//b", "/a\\b", "/a\x00b", "/a\nb", "/" + "x" * 256,
     "/a/" * 2000],
)  # fmt: skip
def test_paths_that_could_leave_the_tree_are_none(path):
    assert path_names(path) is None


def test_http_binds_default_to_loopback_and_say_whether_they_leave_it():
    assert parse_http_bind("8080") == "127.0.0.1:8080"
    assert parse_http_bind("localhost:80") == "127.0.0.1:80"
    assert parse_http_bind("[::1]:9000") == "[::1]:9000"
    assert parse_http_bind("0.0.0.0:8080") == "0.0.0.0:8080"
    assert is_loopback_bind("127.0.0.2:1") and is_loopback_bind("[::1]:1")
    assert not is_loopback_bind("0.0.0.0:8080") and not is_loopback_bind("[::]:8080")
    for bad in ("", "x", "0", "70000", "host.example:80", "1.2.3:80", "8080:²"):
        with pytest.raises(UserError):
            parse_http_bind(bad)


def test_playlists_name_playable_files_with_their_urls():
    assert is_playable("a.MKV") and is_playable("b.flac") and not is_playable("c.nfo")
    text = m3u([("e1.mkv", "http://h/files/e1.mkv")])
    assert text == "#EXTM3U\n#EXTINF:-1,e1.mkv\nhttp://h/files/e1.mkv\n"
