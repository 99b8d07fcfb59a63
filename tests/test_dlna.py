"""The DLNA server's pure parts: SOAP read and written, ContentDirectory over a tree,
DIDL-Lite, SSDP messages. The live server and real control points are in
test_dlna_integration.py."""

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrentfs.core.content_directory import connection_manager, content_directory
from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.core.ssdp_messages import announcement, matching, parse_search
from torrentfs.core.tree import FileTree
from torrentfs.core.upnp_device import CONTENT_DIRECTORY, NOTIFICATION_TYPES
from torrentfs.core.upnp_soap import NotSoap, UpnpFault, answer, read_call

DIDL = "{urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/}"
UUID = "0f8b2a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def _tree(*paths: str) -> FileTree:
    files = tuple(
        FileEntry(index, tuple(path.split("/")), index * 1000, 1000)
        for index, path in enumerate(paths)
    )
    layout = TorrentLayout("show", 1 << 16, len(paths) * 1000, files)
    return FileTree(layout)


TREE = _tree(
    "Season 1/E01 <pilot> & more.mkv",
    "Season 1/E01 <pilot> & more.srt",
    "Season 1/E02.mp4",
    "Season 1/notes.txt",
    "cover.jpg",
    "theme.flac",
)


def _url(object_id: str, name: str) -> str:
    return f"http://tv/{object_id}/{name}"


def _browse(object_id: str, flag: str = "BrowseDirectChildren", **more: str) -> dict[str, str]:
    arguments = {"ObjectID": object_id, "BrowseFlag": flag, **more}
    return dict(content_directory(TREE, "Browse", arguments, _url, 7))


def _objects(out: dict[str, str]) -> list[ET.Element]:
    return list(ET.fromstring(out["Result"]))


def test_browse_lists_folders_and_media_files_and_skips_the_rest() -> None:
    root = _browse("0")
    titles = [o.findtext("{http://purl.org/dc/elements/1.1/}title") for o in _objects(root)]
    assert titles == ["cover.jpg", "Season 1", "theme.flac"]
    assert (root["NumberReturned"], root["TotalMatches"], root["UpdateID"]) == ("3", "3", "7")
    season = next(o for o in _objects(root) if o.tag == f"{DIDL}container")
    assert season.get("parentID") == "0" and season.get("childCount") == "2"
    episodes = _objects(_browse(season.get("id", "")))
    assert [
        e.findtext(f"{{{'urn:schemas-upnp-org:metadata-1-0/upnp/'}}}class") for e in episodes
    ] == [
        "object.item.videoItem",
        "object.item.videoItem",
    ]
    pilot = episodes[0]
    # A name with markup in it stays a name.
    assert pilot.findtext("{http://purl.org/dc/elements/1.1/}title") == "E01 <pilot> & more.mkv"
    video, subtitle = list(pilot.iter(f"{DIDL}res"))
    assert video.get("protocolInfo", "").startswith("http-get:*:video/x-matroska:DLNA.ORG_OP=01")
    assert video.get("size") == "1000"
    assert subtitle.get("protocolInfo") == "http-get:*:text/srt:*"
    assert subtitle.text is not None and subtitle.text.endswith("/E01 <pilot> & more.srt")
    assert pilot.findtext("{http://www.sec.co.kr/}CaptionInfoEx") == subtitle.text


@given(st.integers(0, 5), st.integers(0, 5))
def test_pages_add_up_to_the_whole(start: int, count: int) -> None:
    whole = [o.get("id") for o in _objects(_browse("0"))]
    page = _browse("0", StartingIndex=str(start), RequestedCount=str(count))
    expected = whole[start : start + count] if count else whole[start:]
    assert [o.get("id") for o in _objects(page)] == expected
    assert page["NumberReturned"] == str(len(expected)) and page["TotalMatches"] == "3"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"BrowseFlag": "BrowseDirectChildren"}, 402),
        ({"ObjectID": "0", "BrowseFlag": "Everything"}, 402),
        ({"ObjectID": "0", "BrowseFlag": "BrowseMetadata", "StartingIndex": "-1"}, 402),
        ({"ObjectID": "0", "BrowseFlag": "BrowseMetadata", "RequestedCount": "4294967296"}, 402),
        ({"ObjectID": "99999", "BrowseFlag": "BrowseMetadata"}, 701),
        ({"ObjectID": "1", "BrowseFlag": "BrowseMetadata"}, 701),  # the root is "0" only
        ({"ObjectID": "٣", "BrowseFlag": "BrowseMetadata"}, 701),
    ],
)
def test_bad_browse_arguments_are_upnp_faults(arguments: dict[str, str], code: int) -> None:
    with pytest.raises(UpnpFault) as fault:
        content_directory(TREE, "Browse", arguments, _url, 1)
    assert fault.value.code == code


def test_samsung_tvs_get_their_feature_list() -> None:
    [(name, features)] = content_directory(TREE, "X_GetFeatureList", {}, _url, 1)
    assert name == "FeatureList"
    containers = ET.fromstring(features).iter("{urn:schemas-upnp-org:av:avs}container")
    assert {c.get("type") for c in containers} == {
        "object.item.audioItem",
        "object.item.videoItem",
        "object.item.imageItem",
    }


def test_the_connection_manager_has_one_connection() -> None:
    assert dict(connection_manager("GetCurrentConnectionIDs", {})) == {"ConnectionIDs": "0"}
    source = dict(connection_manager("GetProtocolInfo", {}))["Source"]
    assert "http-get:*:video/mp4:" in source
    with pytest.raises(UpnpFault):
        connection_manager("GetCurrentConnectionInfo", {"ConnectionID": "1"})


def test_a_soap_call_is_read_and_answered_and_entities_are_refused() -> None:
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<s:Body><u:Browse xmlns:u="{CONTENT_DIRECTORY}"><ObjectID>0</ObjectID>'
        "<Filter>*</Filter></u:Browse></s:Body></s:Envelope>"
    ).encode()
    call = read_call(body)
    assert (call.service_type, call.action) == (CONTENT_DIRECTORY, "Browse")
    assert call.arguments == {"ObjectID": "0", "Filter": "*"}
    answered = ET.fromstring(answer(call, [("Result", "<a&b>")]))
    assert answered.findtext(".//Result") == "<a&b>"
    laughs = b'<!DOCTYPE x [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><x>&b;</x>'
    with pytest.raises(NotSoap):
        read_call(laughs)


@given(st.binary(max_size=400))
def test_any_body_is_a_call_or_not_soap(body: bytes) -> None:
    try:
        call = read_call(body)
    except NotSoap:
        return
    with contextlib.suppress(UpnpFault):
        content_directory(TREE, call.action, call.arguments, _url, 1)


@given(
    st.dictionaries(
        st.sampled_from(["ObjectID", "BrowseFlag", "StartingIndex", "RequestedCount", "Filter"]),
        st.text(max_size=12),
    )
)
def test_any_browse_arguments_answer_or_fault(arguments: dict[str, str]) -> None:
    try:
        out = dict(content_directory(TREE, "Browse", arguments, _url, 1))
    except UpnpFault as fault:
        assert fault.code in (402, 600, 701)
        return
    assert int(out["NumberReturned"]) == len(_objects(out)) <= int(out["TotalMatches"])


def test_ssdp_answers_searches_for_what_it_is() -> None:
    search = parse_search(
        b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
        b"MX: 3\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\n\r\n"
    )
    assert search is not None and search.max_wait_s == 3
    assert matching(search, UUID) == [
        (
            "urn:schemas-upnp-org:device:MediaServer:1",
            f"uuid:{UUID}::urn:schemas-upnp-org:device:MediaServer:1",
        ),
    ]
    everything = parse_search(b'M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\nST: ssdp:all\r\n')
    assert everything is not None and len(matching(everything, UUID)) == 1 + len(NOTIFICATION_TYPES)
    assert parse_search(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n") is None
    assert parse_search(b'M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\n\r\n') is None
    goodbye = announcement(UUID, "http://x/d.xml", "s", alive=False)
    assert all(b"NTS: ssdp:byebye" in d and b"LOCATION" not in d for d in goodbye)
