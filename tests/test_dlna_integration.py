"""The DLNA server (`--dlna`) with control points nobody here wrote: GUPnP's
`gssdp-discover` and async-upnp-client's `upnp-client`, then ffprobe and curl on what they
were given.

Everything runs in a network namespace whose `lo` carries multicast (`ip link set lo
multicast on`, a route for 239.0.0.0/8), so SSDP never leaves it; the seeder (libtorrent
with its default settings) runs there too, in a process of its own.
"""

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torrentfs.status import read_library_status
from torrentfs_tools.demo import make_sample
from torrentfs_tools.foreign import LoopbackNamespace, free_port
from torrentfs_tools.foreign_clients import LibtorrentSeederProcess
from torrentfs_tools.loopback import make_torrent, tiny_torrents

pytestmark = pytest.mark.mount

HOST = "127.0.0.1"
SEEDER_ADDRESS = "127.0.0.2"
MEDIA_SERVER = "urn:schemas-upnp-org:device:MediaServer:1"
CONTENT_DIRECTORY = "urn:schemas-upnp-org:service:ContentDirectory:1"
DIDL = "{urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/}"
DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
TINY = 20
DISCOVER_S = 3
COMMAND_TIMEOUT_S = 60
SUBTITLES = "1\n00:00:01,000 --> 00:00:02,000\nhello\n"
FUZZ_EXAMPLES = 150
# async-upnp-client's command, beside this interpreter in the virtualenv.
UPNP_CLIENT = str(Path(sys.executable).with_name("upnp-client"))


@pytest.fixture
def netns() -> Iterator[LoopbackNamespace]:
    with LoopbackNamespace(f"torrentfs-dlna-{os.getpid()}") as namespace:
        for command in (
            ["ip", "link", "set", "lo", "multicast", "on"],
            ["ip", "route", "add", "239.0.0.0/8", "dev", "lo"],
        ):
            subprocess.run(["ip", "netns", "exec", namespace.name, *command], check=True)
        yield namespace


def _run(netns: LoopbackNamespace, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*netns.prefix, *command],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _browse(
    netns: LoopbackNamespace,
    description: str,
    object_id: str,
    flag: str = "BrowseDirectChildren",
    start: int = 0,
    count: int = 0,
) -> tuple[list[ET.Element], int, int]:
    """(the DIDL-Lite objects, NumberReturned, TotalMatches) of a Browse by upnp-client."""
    called = _run(
        netns,
        UPNP_CLIENT,
        "--strict",
        "call-action",
        description,
        "ContentDirectory/Browse",
        f"ObjectID={object_id}",
        f"BrowseFlag={flag}",
        "Filter=*",
        f"StartingIndex={start}",
        f"RequestedCount={count}",
        "SortCriteria=",
    )
    assert called.returncode == 0, called.stderr
    out = json.loads(called.stdout)["out_parameters"]
    objects = list(ET.fromstring(out["Result"]))
    return objects, int(out["NumberReturned"]), int(out["TotalMatches"])


def _title(element: ET.Element) -> str:
    return element.findtext(DC_TITLE) or ""


def _in_swarm(mountpoint: Path) -> list[str]:
    status = read_library_status(mountpoint)
    return [t["folder"] for t in status["torrents"] if t["status"] is not None]


def _library(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A watch folder: a show (a video and its subtitles) and tiny torrents nobody seeds;
    the show's .torrent and its video."""
    show = tmp_path / "content" / "show"
    show.mkdir(parents=True)
    video = make_sample(show)
    (show / f"{video.stem}.srt").write_text(SUBTITLES)
    watch = tmp_path / "watch"
    watch.mkdir()
    torrent = watch / "show.torrent"
    torrent.write_bytes(make_torrent(show, 256 << 10))
    for index, data in enumerate(tiny_torrents(tmp_path / "tiny", TINY)):
        (watch / f"tiny{index:02}.torrent").write_bytes(data)
    return watch, torrent, video


def test_a_tv_finds_the_library_browses_it_without_starting_it_and_plays_a_video(
    netns, mount, tmp_path
):
    watch, torrent, video = _library(tmp_path)
    port = free_port(HOST)
    with LibtorrentSeederProcess(
        torrent, video.parent.parent, SEEDER_ADDRESS, netns, tmp_path
    ) as seeder:
        mounted = mount(
            watch,
            "--peer",
            "{}:{}".format(*seeder.endpoint),
            "--http",
            str(port),
            "--dlna",
            "--dlna-name",
            "Living room",
            prefix=netns.prefix,
        )
        found = _run(
            netns, "gssdp-discover", "-i", "lo", f"--timeout={DISCOVER_S}", "-t", MEDIA_SERVER
        )
        description = f"http://{HOST}:{port}/dlna/device.xml"
        assert f"Location: {description}" in found.stdout, found.stdout
        [usn] = [line.split()[1] for line in found.stdout.splitlines() if "USN:" in line][:1]
        assert usn.endswith(f"::{MEDIA_SERVER}")

        objects, returned, total = _browse(netns, description, "0")
        assert (returned, total) == (TINY + 1, TINY + 1)
        assert all(o.tag == f"{DIDL}container" for o in objects)
        titles = [_title(o) for o in objects]
        assert "show" in titles
        # Pages add up to the whole, in the same order.
        paged = []
        for start in range(0, total, 6):
            page, page_returned, page_total = _browse(netns, description, "0", start=start, count=6)
            assert page_total == total and page_returned == len(page)
            paged += [_title(o) for o in page]
        assert paged == titles

        show_id = objects[titles.index("show")].get("id", "")
        [item], _, _ = _browse(netns, description, show_id)
        assert item.tag == f"{DIDL}item" and _title(item) == video.name
        resources = {
            r.get("protocolInfo", "").split(":")[2]: r.text or "" for r in item.iter(f"{DIDL}res")
        }
        assert set(resources) == {"video/mp4", "text/srt"}
        [metadata], _, _ = _browse(netns, description, item.get("id", ""), flag="BrowseMetadata")
        assert _title(metadata) == video.name
        # Every container browsed: nothing started, nothing fetched.
        for container in objects:
            _browse(netns, description, container.get("id", ""))
        assert _in_swarm(mounted.mountpoint) == []

        url = resources["video/mp4"]
        assert urlsplit(url).netloc == f"{HOST}:{port}"
        probe = _run(
            netns, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", url
        )
        assert probe.returncode == 0, probe.stderr
        assert float(json.loads(probe.stdout)["format"]["duration"]) > 1
        ranged = subprocess.run(
            [*netns.prefix, "curl", "-sf", "-r", "100000-299999", url],
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        assert ranged.stdout == video.read_bytes()[100000:300000]
        head = _run(netns, "curl", "-sfI", url)
        assert "transfermode.dlna.org: Streaming" in head.stdout
        assert "contentfeatures.dlna.org: DLNA.ORG_OP=01" in head.stdout
        subtitles = _run(netns, "curl", "-sf", resources["text/srt"])
        assert subtitles.stdout == SUBTITLES
        assert _in_swarm(mounted.mountpoint) == ["show"]

        # A control point subscribed to ContentDirectory hears of a torrent added.
        events = subprocess.Popen(
            [*netns.prefix, "timeout", str(COMMAND_TIMEOUT_S), UPNP_CLIENT, "subscribe",
             description, "ContentDirectory"],
            stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert events.stdout is not None
        first = json.loads(events.stdout.readline())["state_variables"]["SystemUpdateID"]
        (watch / "later.torrent").write_bytes(tiny_torrents(tmp_path / "later", TINY + 1)[-1])
        changed = json.loads(events.stdout.readline())["state_variables"]["SystemUpdateID"]
        assert changed > first
        events.kill()
        events.wait()

        # The goodbye: a control point listening when the server stops hears it leave.
        listening = subprocess.Popen(
            [
                *netns.prefix,
                "gssdp-discover",
                "-i",
                "lo",
                "-m",
                "unavailable",
                f"--timeout={DISCOVER_S + 2}",
                "-t",
                MEDIA_SERVER,
            ],
            stdout=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(1)
        assert mounted.unmount() == 0
        gone, _ = listening.communicate(timeout=COMMAND_TIMEOUT_S)
        assert "resource unavailable" in gone and usn in gone, gone
    assert "Traceback" not in mounted.log_text()


def test_soap_and_events_take_any_body_without_a_server_error(netns, mount, tmp_path):
    """Malformed XML, entity bombs, huge and deep bodies, odd Browse arguments: a 400, a
    413 or a UPnP fault (HTTP 500 with a UPnPError, as UPnP has it), never anything else."""
    watch, _, _ = _library(tmp_path)
    port = free_port(HOST)
    mounted = mount(watch, "--http", str(port), "--dlna", prefix=netns.prefix)
    control = f"http://{HOST}:{port}/dlna/control/ContentDirectory"

    def post(body: bytes) -> tuple[int, str]:
        answered = subprocess.run(
            [
                *netns.prefix,
                "curl",
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-X",
                "POST",
                "-H",
                f'SOAPACTION: "{CONTENT_DIRECTORY}#Browse"',
                "-H",
                "content-type: text/xml",
                "--data-binary",
                "@-",
                control,
            ],
            input=body,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        text, _, code = answered.stdout.decode(errors="replace").rpartition("\n")
        return int(code), text

    def acceptable(code: int, text: str) -> bool:
        return code in (200, 400, 413) or (code == 500 and "<errorCode>" in text)

    def browse(arguments: dict[str, str]) -> bytes:
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in arguments.items())
        return (
            '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<s:Body><u:Browse xmlns:u="{CONTENT_DIRECTORY}">{inner}</u:Browse></s:Body>'
            "</s:Envelope>"
        ).encode()

    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    )
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    for body, expected in ((bomb, 400), (external, 400), (deep, 413), (b"", 400)):
        code, text = post(body)
        assert code == expected, (body[:60], code, text)
        assert "root:" not in text
    code, text = post(browse({"ObjectID": "0", "BrowseFlag": "BrowseDirectChildren"}))
    assert code == 200 and "TotalMatches" in text

    words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30)
    argument_names = st.sampled_from(
        [
            "ObjectID",
            "BrowseFlag",
            "StartingIndex",
            "RequestedCount",
            "Filter",
            "SortCriteria",
            "Other",
        ]
    )
    values = st.one_of(
        words,
        st.integers(-(2**40), 2**40).map(str),
        st.sampled_from(["0", "BrowseMetadata", "BrowseDirectChildren"]),
    )

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.dictionaries(argument_names, values).map(
                lambda args: browse({k: _escaped(v) for k, v in args.items()})
            ),
        )
    )
    def any_body(body: bytes) -> None:
        code, text = post(body)
        assert acceptable(code, text), (body, code, text)

    any_body()
    subscribe = _run(
        netns,
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "SUBSCRIBE",
        "-H",
        "CALLBACK: <http://192.0.2.1:9/>",
        "-H",
        "NT: upnp:event",
        f"http://{HOST}:{port}/dlna/event/ContentDirectory",
    )
    # A callback on another machine than the subscriber's: refused, nothing sent there.
    assert subscribe.stdout == "412"
    assert mounted.unmount() == 0
    assert "Traceback" not in mounted.log_text()


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
