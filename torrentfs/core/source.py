"""Turning the user's SOURCE string into a `Source`: what to fetch and from whom.

SOURCE is a magnet URI, a path to a .torrent file, or a bare info-hash (40 hex
or 32 base32 characters for v1, 64 hex for v2). Parsing is pure: nothing here
touches the network or libtorrent, and every problem is a one-line UserError.
"""

import base64
import binascii
import ipaddress
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from torrentfs.core.errors import UserError

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")
# A v2 magnet's btmh is a multihash: 0x12 (sha2-256), 0x20 (32 bytes), digest.
_SHA256_MULTIHASH_PREFIX = "1220"
# Anything bigger is not a .torrent a person would mean; reading it would hurt.
MAX_TORRENT_FILE_BYTES = 64 << 20
TRACKER_SCHEMES = frozenset({"http", "https", "udp", "ws", "wss"})


@dataclass(frozen=True)
class Peer:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Source:
    """What the user asked to mount.

    A .torrent source carries its bytes (`torrent_data`); the others carry
    info-hashes (hex) and learn the metadata from peers.
    """

    text: str
    info_hash_v1: str | None = None
    info_hash_v2: str | None = None
    torrent_data: bytes | None = None
    peers: tuple[Peer, ...] = ()
    trackers: tuple[str, ...] = ()
    display_name: str | None = None

    @property
    def has_metadata(self) -> bool:
        return self.torrent_data is not None

    @property
    def label(self) -> str:
        """A short human name for logs and `mount` output."""
        if self.display_name:
            return self.display_name
        return self.info_hash_v1 or self.info_hash_v2 or self.text


def resolve_peer(peer: Peer) -> tuple[str, int]:
    """The address to dial for `peer`, its host name looked up; raises UserError."""
    try:
        ipaddress.ip_address(peer.host)
        return (peer.host, peer.port)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(peer.host, peer.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UserError(f"cannot resolve peer {peer}: {error.strerror}") from None
    address = infos[0][4]
    return (str(address[0]), int(address[1]))


def parse_source(text: str) -> Source:
    """Parse SOURCE; raises UserError naming what is wrong and how to fix it."""
    stripped = text.strip()
    if stripped.lower().startswith("magnet:"):
        return parse_magnet(stripped)
    info_hash = _parse_bare_info_hash(stripped)
    if info_hash is not None:
        return info_hash
    return _read_torrent_file(Path(text))


def parse_link(text: str) -> Source:
    """A magnet link or a bare info-hash (never a file name); raises UserError."""
    stripped = text.strip()
    if stripped.lower().startswith("magnet:"):
        return parse_magnet(stripped)
    info_hash = _parse_bare_info_hash(stripped)
    if info_hash is None:
        raise UserError(f"{stripped[:80]!r} is neither a magnet link nor an info-hash")
    return info_hash


def parse_peer(text: str) -> Peer:
    """Parse "host:port" or "[v6]:port"; raises UserError."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    # isdigit alone takes "²" and other digits int() refuses.
    port_ok = port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536
    if not sep or not host or not port_ok:
        raise UserError(f"invalid peer {text!r}: expected HOST:PORT, e.g. 192.0.2.7:6881")
    return Peer(host, int(port_text))


def parse_tracker(text: str) -> str:
    """Check an announce URL (http, https, udp, ws or wss); raises UserError."""
    parts = urlsplit(text)
    if parts.scheme.lower() not in TRACKER_SCHEMES or not parts.hostname:
        raise UserError(
            f"invalid tracker {text!r}: expected an announce URL such as "
            "udp://tracker.example:6969/announce or http://tracker.example/announce"
        )
    return text


def parse_magnet(uri: str) -> Source:
    """Parse a magnet URI (BEP 9): xt (required), x.pe peers, tr trackers, dn name."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "magnet":
        raise UserError(f"not a magnet link: {uri!r}")
    params = parse_qsl(parts.query, keep_blank_values=True)
    v1: str | None = None
    v2: str | None = None
    peers: list[Peer] = []
    trackers: list[str] = []
    name: str | None = None
    for key, value in params:
        if key == "xt":
            if value.lower().startswith("urn:btih:"):
                v1 = _v1_hash_from_text(value[len("urn:btih:") :], where="magnet xt")
            elif value.lower().startswith("urn:btmh:"):
                v2 = _v2_hash_from_multihash(value[len("urn:btmh:") :])
            else:
                raise UserError(
                    f"magnet link has an unsupported xt {value!r}: expected urn:btih: or urn:btmh:"
                )
        elif key == "x.pe":
            peers.append(parse_peer(value))
        elif key == "tr":
            trackers.append(value)
        elif key == "dn":
            name = value or None
    if v1 is None and v2 is None:
        raise UserError("magnet link has no xt=urn:btih:… (or urn:btmh:…) info-hash")
    return Source(
        text=uri,
        info_hash_v1=v1,
        info_hash_v2=v2,
        peers=tuple(peers),
        trackers=tuple(trackers),
        display_name=name,
    )


def _parse_bare_info_hash(text: str) -> Source | None:
    if _HEX40.match(text) or _BASE32.match(text):
        return Source(text=text, info_hash_v1=_v1_hash_from_text(text, where="info-hash"))
    if _HEX64.match(text):
        return Source(text=text, info_hash_v2=text.lower())
    return None


def _v1_hash_from_text(text: str, where: str) -> str:
    if _HEX40.match(text):
        return text.lower()
    if _BASE32.match(text):
        try:
            return base64.b32decode(text.upper()).hex()
        except binascii.Error:
            pass
    raise UserError(f"invalid {where} {text!r}: expected 40 hexadecimal or 32 base32 characters")


def _v2_hash_from_multihash(text: str) -> str:
    lowered = text.lower()
    digest = lowered[len(_SHA256_MULTIHASH_PREFIX) :]
    if not lowered.startswith(_SHA256_MULTIHASH_PREFIX) or not _HEX64.match(digest):
        raise UserError(
            f"invalid magnet xt urn:btmh:{text}: expected 1220 and then 64 hexadecimal characters"
        )
    return digest


def _read_torrent_file(path: Path) -> Source:
    looks_like_hash = re.fullmatch(r"[0-9A-Za-z]{20,80}", str(path)) is not None
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UserError(f"{path} is a directory, not a .torrent file")
        if size > MAX_TORRENT_FILE_BYTES:
            raise UserError(f"{path} is {size} bytes: too big to be a .torrent file")
        data = path.read_bytes()
    except FileNotFoundError:
        if looks_like_hash:
            raise UserError(
                f"{str(path)!r} is neither a file nor an info-hash "
                "(40 hex or 32 base32 characters; 64 hex for v2)"
            ) from None
        raise UserError(
            f"no such file: {path} (SOURCE is a magnet link, a .torrent file, an info-hash or a "
            "folder of .torrent and .magnet files)"
        ) from None
    except PermissionError:
        raise UserError(f"cannot read {path}: permission denied") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise UserError("SOURCE contains a NUL byte: no magnet, file or info-hash does") from None
    if not data.startswith(b"d"):
        raise UserError(f"{path} is not a .torrent file (it is not bencoded)")
    return Source(text=str(path), torrent_data=data, display_name=path.stem)
