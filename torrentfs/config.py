"""All settings of a mount in one place, with their defaults and units.

The command line builds a `Settings`; every other module reads from it and
defines no tunables of its own.
"""

from dataclasses import dataclass, field

from torrentfs.source import Peer

MIB = 1 << 20

DEFAULT_CACHE_BYTES = 256 * MIB
# Below this the store could not hold one read plus its read-ahead window.
MIN_CACHE_BYTES = 16 * MIB
DEFAULT_METADATA_TIMEOUT_S = 120.0
DEFAULT_READAHEAD_BYTES = 8 * MIB
DEFAULT_LISTEN = "0.0.0.0:6881,[::]:6881"


@dataclass(frozen=True)
class NetworkSettings:
    """How the BitTorrent session reaches the world."""

    listen: str = DEFAULT_LISTEN
    dht: bool = True
    lsd: bool = True
    upnp: bool = True
    natpmp: bool = True
    # Peers to dial besides those the source names.
    peers: tuple[Peer, ...] = ()


@dataclass(frozen=True)
class StreamSettings:
    """How reads turn into piece requests."""

    # Bytes after each read that are requested ahead of the reader.
    readahead_bytes: int = DEFAULT_READAHEAD_BYTES
    # Later read-ahead pieces get deadlines this much further out, so that
    # libtorrent fetches them in reading order.
    readahead_step_ms: int = 250
    # A wait for a piece re-asserts its deadline this often, which recovers
    # from lost alerts, read errors and seeders that went away and came back.
    piece_reassert_s: float = 5.0


@dataclass(frozen=True)
class Settings:
    """Everything one mount needs to know."""

    cache_bytes: int = DEFAULT_CACHE_BYTES
    metadata_timeout_s: float = DEFAULT_METADATA_TIMEOUT_S
    allow_other: bool = False
    network: NetworkSettings = field(default_factory=NetworkSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
