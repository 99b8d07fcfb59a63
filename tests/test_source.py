import base64

import pytest

from torrentfs.core.errors import UserError
from torrentfs.core.source import Peer, parse_peer, parse_source

HEX = "c9e15763f722f23e98a29decdfae341b98d53056"
BASE32 = base64.b32encode(bytes.fromhex(HEX)).decode()
V2 = "a" * 64


def test_magnet_with_peers_trackers_and_name():
    source = parse_source(
        f"magnet:?xt=urn:btih:{HEX.upper()}&dn=Big+Buck+Bunny"
        "&tr=udp%3A%2F%2Ftracker.example%3A1337&x.pe=127.0.0.2:6881&x.pe=[::1]:7000"
    )
    assert source.info_hash_v1 == HEX
    assert source.info_hash_v2 is None
    assert source.display_name == "Big Buck Bunny"
    assert source.trackers == ("udp://tracker.example:1337",)
    assert source.peers == (Peer("127.0.0.2", 6881), Peer("::1", 7000))
    assert not source.has_metadata
    assert source.label == "Big Buck Bunny"


def test_magnet_base32_and_v2():
    assert parse_source(f"magnet:?xt=urn:btih:{BASE32}").info_hash_v1 == HEX
    hybrid = parse_source(f"magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{V2}")
    assert (hybrid.info_hash_v1, hybrid.info_hash_v2) == (HEX, V2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("magnet:?dn=x", "has no xt"),
        ("magnet:?xt=urn:btih:123", "invalid magnet xt"),
        (f"magnet:?xt=urn:btih:{HEX[:-1]}g", "invalid magnet xt"),
        (f"magnet:?xt=urn:sha1:{HEX}", "unsupported xt"),
        (f"magnet:?xt=urn:btmh:1114{V2}", "urn:btmh"),
        (f"magnet:?xt=urn:btih:{HEX}&x.pe=nohostport", "invalid peer"),
        (f"magnet:?xt=urn:btih:{HEX}&x.pe=host:99999", "invalid peer"),
    ],
)
def test_bad_magnets(text, message):
    with pytest.raises(UserError, match=message):
        parse_source(text)


def test_bare_info_hashes():
    assert parse_source(HEX).info_hash_v1 == HEX
    assert parse_source(BASE32.lower()).info_hash_v1 == HEX
    assert parse_source(V2.upper()).info_hash_v2 == V2


def test_torrent_file(tmp_path):
    path = tmp_path / "show.torrent"
    path.write_bytes(b"d4:infod4:name1:xee")
    source = parse_source(str(path))
    assert source.has_metadata
    assert source.torrent_data == b"d4:infod4:name1:xee"
    assert source.label == "show"


def test_torrent_file_problems(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        parse_source(str(tmp_path / "missing.torrent"))
    with pytest.raises(UserError, match="neither a file nor an info-hash"):
        parse_source("abcdef0123456789abcdef")
    with pytest.raises(UserError, match="is a directory"):
        parse_source(str(tmp_path))
    text = tmp_path / "notes.torrent"
    text.write_text("hello")
    with pytest.raises(UserError, match="not bencoded"):
        parse_source(str(text))


def test_parse_peer():
    assert parse_peer("10.1.2.3:51413") == Peer("10.1.2.3", 51413)
    assert parse_peer("[2001:db8::1]:6881") == Peer("2001:db8::1", 6881)
    assert str(Peer("2001:db8::1", 6881)) == "[2001:db8::1]:6881"
    for bad in ("", ":80", "host:", "host:0", "host:x", "0:²"):  # "²" found by the fuzz test
        with pytest.raises(UserError):
            parse_peer(bad)
