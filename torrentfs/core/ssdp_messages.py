"""SSDP's messages (UPnP Device Architecture 1.0, part 1): the announcements a media server
sends to the multicast group and its answers to a search. Pure.
"""

from dataclasses import dataclass
from email.utils import formatdate

from torrentfs.core.upnp_device import NOTIFICATION_TYPES

GROUP = "239.255.255.250"
PORT = 1900
MAX_AGE_S = 1800
# A datagram larger than this is no search.
MAX_DATAGRAM = 8192
SEARCH_ALL = "ssdp:all"


@dataclass(frozen=True)
class Search:
    target: str
    # Seconds a device may wait before it answers (spreading the answers out).
    max_wait_s: int


def parse_search(datagram: bytes) -> Search | None:
    """The M-SEARCH in `datagram`, or None for anything else (announcements, junk)."""
    if len(datagram) > MAX_DATAGRAM:
        return None
    lines = datagram.decode("utf-8", "replace").split("\r\n")
    if lines[0].strip().upper() != "M-SEARCH * HTTP/1.1":
        return None
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if headers.get("man", "").strip('"') != "ssdp:discover" or not headers.get("st"):
        return None
    wait = headers.get("mx", "1")
    return Search(headers["st"], int(wait) if wait.isdigit() and wait.isascii() else 1)


def targets(uuid: str) -> list[tuple[str, str]]:
    """Every (NT or ST, USN) this server answers for: root device, itself, its type and
    its services."""
    device = f"uuid:{uuid}"
    found = [(device, device)]
    found += [(nt, f"{device}::{nt}") for nt in NOTIFICATION_TYPES]
    return found


def matching(search: Search, uuid: str) -> list[tuple[str, str]]:
    """The (ST, USN) pairs that answer `search`."""
    every = targets(uuid)
    if search.target == SEARCH_ALL:
        return every
    return [pair for pair in every if pair[0] == search.target]


def announcement(uuid: str, location: str, server: str, alive: bool) -> list[bytes]:
    """The NOTIFY datagrams of ssdp:alive (or ssdp:byebye), one per target."""
    datagrams = []
    for nt, usn in targets(uuid):
        lines = ["NOTIFY * HTTP/1.1", f"HOST: {GROUP}:{PORT}", f"NT: {nt}", f"USN: {usn}"]
        if alive:
            lines += [
                "NTS: ssdp:alive",
                f"CACHE-CONTROL: max-age={MAX_AGE_S}",
                f"LOCATION: {location}",
                f"SERVER: {server}",
            ]
        else:
            lines.append("NTS: ssdp:byebye")
        datagrams.append(_message(lines))
    return datagrams


def search_answer(st: str, usn: str, location: str, server: str) -> bytes:
    return _message(
        [
            "HTTP/1.1 200 OK",
            f"CACHE-CONTROL: max-age={MAX_AGE_S}",
            f"DATE: {formatdate(usegmt=True)}",
            "EXT:",
            f"LOCATION: {location}",
            f"SERVER: {server}",
            f"ST: {st}",
            f"USN: {usn}",
        ]
    )


def _message(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
