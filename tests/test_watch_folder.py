import pytest

from torrentfs.core.errors import UserError
from torrentfs.core.watch_folder import below, changes, put_link, rescan, scan, source_of

HASH = "c9e15763f722f23e98a29decdfae341b98d53056"


def test_scan_sees_visible_files_and_changes_say_what_came_and_went(tmp_path):
    (tmp_path / "a.torrent").write_bytes(b"x")
    (tmp_path / ".partial.magnet").write_text("magnet:")
    (tmp_path / "folder").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.torrent").write_bytes(b"x")
    first = scan(tmp_path)
    assert list(first) == ["a.torrent"]
    (tmp_path / "b.magnet").write_text(f"magnet:?xt=urn:btih:{HASH}\n")
    (tmp_path / "a.torrent").unlink()
    second = scan(tmp_path)
    found = changes(first, second)
    assert (found.added, found.removed) == (["b.magnet"], ["a.torrent"])
    rewritten = dict(second, **{"b.magnet": (0, 1)})
    found = changes(second, rewritten)
    assert (found.added, found.removed, found.rewritten) == ([], [], ["b.magnet"])


def test_subfolders_at_any_depth_are_scanned_and_rescanned_by_path(tmp_path):
    (tmp_path / "tv" / "Show").mkdir(parents=True)
    (tmp_path / "tv" / "Show" / "e1.torrent").write_bytes(b"x")
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / "film.magnet").write_text("magnet:")
    (tmp_path / "top.torrent").write_bytes(b"x")
    seen = scan(tmp_path)
    assert sorted(seen) == ["movies/film.magnet", "top.torrent", "tv/Show/e1.torrent"]
    assert list(below(seen, "tv")) == ["tv/Show/e1.torrent"]
    assert list(below(seen, "tv/Show/e1.torrent")) == ["tv/Show/e1.torrent"]
    assert below(seen, "t") == {}
    assert list(rescan(tmp_path, "tv")) == ["tv/Show/e1.torrent"]
    assert list(rescan(tmp_path, "top.torrent")) == ["top.torrent"]
    assert rescan(tmp_path, "gone.torrent") == {}
    assert rescan(tmp_path, ".hidden/x.torrent") == {}


def test_a_magnet_file_holds_one_link(tmp_path):
    link = tmp_path / "film.magnet"
    link.write_text(f"  magnet:?xt=urn:btih:{HASH}&dn=Film  \n")
    source = source_of(link)
    assert source.info_hash_v1 == HASH and source.display_name == "Film"
    link.write_text(HASH.upper())
    assert source_of(link).info_hash_v1 == HASH


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.magnet", "", "empty.magnet is empty"),
        ("two.magnet", f"{HASH}\n{HASH}", "more than one line"),
        ("path.magnet", "/etc/passwd", "neither a magnet link nor an info-hash"),
        ("notes.txt", "hello", "neither a .torrent nor a .magnet file"),
        ("bad.torrent", "not bencoded", "bad.torrent is not a .torrent file"),
    ],
)
def test_what_is_not_a_torrent_is_rejected_with_its_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError, match=reason):
        source_of(path)


@pytest.mark.parametrize("named", ["{path}", "file://{path}", "../{name}", "./{name}"])
def test_a_link_is_never_a_path_to_a_file_on_this_machine(tmp_path, named):
    """What network clients add goes through `put_link`: a real .torrent named by its path
    is refused and left unread."""
    watch = tmp_path / "watch"
    watch.mkdir()
    server_file = tmp_path / "secret.torrent"
    server_file.write_bytes(b"d4:infod4:name1:xee")
    text = named.format(path=server_file, name=server_file.name)
    with pytest.raises(UserError):
        put_link(watch, text)
    assert list(watch.iterdir()) == []
