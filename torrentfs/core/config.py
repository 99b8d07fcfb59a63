"""All settings of a mount in one place, with their defaults and units.

The command line builds a `Settings`; the modules read their choices from
it. What a user cannot set (libtorrent session settings, window arithmetic,
retry intervals) stays beside the code it tunes, each named, with its reason.
"""

import enum
from dataclasses import dataclass, field
from pathlib import Path

from torrentfs.core.source import Peer

MIB = 1 << 20

DEFAULT_CACHE_BYTES = 256 * MIB
# Below this the store could not hold one read plus its read-ahead window.
MIN_CACHE_BYTES = 16 * MIB
DEFAULT_METADATA_TIMEOUT_S = 120.0
# A library's torrents in the session at once: a media server probing every
# file starts them one after another, and each would otherwise open a swarm.
DEFAULT_HTTP_USER = "torrentfs"
DEFAULT_MAX_ACTIVE_TORRENTS = 8
DEFAULT_READAHEAD_S = 30.0
# Also what is claimed of the largest file as soon as the metadata is known:
# 4 MiB, a 4 MB/s seeder's first burst.
DEFAULT_READAHEAD_MIN_BYTES = 4 * MIB
DEFAULT_READAHEAD_MAX_BYTES = 64 * MIB
DEFAULT_MAX_IN_FLIGHT_BYTES = 8 * MIB
# Memory mode's RAM store, whatever the windows: room for the heads and tails of the
# files players and media servers probe.
MEMORY_STORE_MIN_BYTES = 64 * MIB
DEFAULT_SEEK_AHEAD_BYTES = 2 * MIB
DEFAULT_HEAD_BYTES = 512 * 1024
DEFAULT_TAIL_BYTES = 512 * 1024
# Files whose head and tail are fetched on open.
MEDIA_EXTENSIONS = frozenset(
    {
        *(".mkv", ".mp4", ".m4v", ".mov", ".avi", ".webm", ".ts", ".m2ts", ".mts", ".mpg"),
        *(".mpeg", ".wmv", ".flv", ".ogv", ".3gp", ".mp3", ".flac", ".m4a", ".m4b", ".ogg"),
        *(".opus", ".wav", ".aac", ".wma"),
    }
)
DEFAULT_LISTEN = "0.0.0.0:6881,[::]:6881"
# Read when --storage is not given, as WebTorrent-based set-ups name it.
STORAGE_MODE_ENV = "TORRENT_STORAGE_MODE"
DEFAULT_IDLE_TIMEOUT_S = 20.0
DEFAULT_IDLE_DISCONNECT_S = 300.0
# Read when --idle-timeout is not given: "false" turns the idle pause off.
PAUSE_ON_VIDEO_PAUSE_ENV = "TORRENT_PAUSE_ON_VIDEO_PAUSE"


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
    # Announce URLs besides those the source names, each a tier of its own.
    trackers: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamSettings:
    """How reads turn into piece requests."""

    # Seconds of reading, at the reader's measured rate, fetched ahead of it.
    readahead_s: float = DEFAULT_READAHEAD_S
    # Bounds of that window in bytes (and never fewer than 2 pieces).
    readahead_min_bytes: int = DEFAULT_READAHEAD_MIN_BYTES
    readahead_max_bytes: int = DEFAULT_READAHEAD_MAX_BYTES
    # Deadline spacing of window pieces before a reader's rate is known.
    readahead_step_ms: int = 250
    # Fetched first when a media file is opened: players read the head, then
    # jump to the tail for the index (MP4 moov, MKV cues, AVI idx1).
    head_bytes: int = DEFAULT_HEAD_BYTES
    tail_bytes: int = DEFAULT_TAIL_BYTES
    # Claimed pieces asked of libtorrent at once, in bytes: enough to keep
    # the swarm busy, few enough that the next piece needed comes first.
    max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES
    # A wait for a piece re-asserts its deadline this often, which recovers
    # from lost alerts, read errors and seeders that went away and came back.
    piece_reassert_s: float = 5.0
    # A read this far ahead of the last one (or two pieces, if more) is a
    # jump, not the stream going on: kernel read-ahead and parallel reads
    # stay well within it.
    seek_ahead_bytes: int = DEFAULT_SEEK_AHEAD_BYTES
    # A single torrent: fetch the first window of its largest file with the metadata.
    preload_head: bool = True


class StorageMode(enum.StrEnum):
    MEMORY = "memory"
    DISK = "disk"


@dataclass(frozen=True)
class StorageSettings:
    """Where torrent data lives, and whether all of it is fetched."""

    mode: StorageMode = StorageMode.MEMORY
    # Disk mode: the folder holding one folder per torrent (None: the default).
    cache_dir: Path | None = None
    # Fetch the whole torrent in the background, behind what readers need.
    download_all: bool = False
    # Disk mode: an upper bound for the cache folder (None: it grows as read).
    disk_limit_bytes: int | None = None
    # Disk mode: how often what was fetched is recorded for the next mount.
    resume_save_interval_s: float = 60.0


@dataclass(frozen=True)
class IdleSettings:
    """When a stretch with no reads means nobody watches; 0 turns a stage off."""

    # No reads this long: stop asking for data, keep the peers.
    timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    # No reads this long: pause the torrent, no connections at all.
    disconnect_s: float = DEFAULT_IDLE_DISCONNECT_S
    # Keep --download-all's background fetching going while idle.
    download_all_while_idle: bool = False


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP face (--http): where it listens and who may ask."""

    # "ADDR:PORT", or None for no HTTP server at all.
    bind: str | None = None
    user: str = DEFAULT_HTTP_USER
    # Required unless `bind` is a loopback address.
    password: str | None = None
    # A client's reader of a file outlives its last request by this much, so the next
    # range request of a player goes on with the same read-ahead.
    reader_linger_s: float = 10.0
    # A connection that sends nothing (no request, or between requests) is closed after this.
    idle_connection_s: float = 30.0
    # The qBittorrent API: an address with 5 failed logins is refused this long.
    ban_s: float = 3600.0
    # Clients on a loopback address need no credentials (qBittorrent's "bypass
    # authentication for clients on localhost"), for *arr tools on the same machine.
    loopback_open: bool = False
    # A DLNA/UPnP media server on the same port (--dlna), under this name (None: the default,
    # `torrentfs on HOST`).
    dlna: bool = False
    dlna_name: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything one mount needs to know."""

    cache_bytes: int = DEFAULT_CACHE_BYTES
    metadata_timeout_s: float = DEFAULT_METADATA_TIMEOUT_S
    # A library: at most this many torrents in the session at once.
    max_active_torrents: int = DEFAULT_MAX_ACTIVE_TORRENTS
    # A read waiting longer than this for its pieces fails with EIO (0: waits indefinitely).
    read_timeout_s: float = 0.0
    allow_other: bool = False
    # Clear a stale mount left at the mountpoint by a torrentfs that was killed.
    force: bool = False
    network: NetworkSettings = field(default_factory=NetworkSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    idle: IdleSettings = field(default_factory=IdleSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    # A library: mirror its torrents' files as symlinks into the mount here.
    symlink_dir: Path | None = None


def readahead_limit(cache_bytes: int, mode: StorageMode) -> int:
    """The largest --readahead-max a cache allows: a quarter of it in memory mode, half on
    disk, so that the store (`store_bytes`) can always hold two windows."""
    return cache_bytes // 4 if mode is StorageMode.MEMORY else cache_bytes // 2


def store_bytes(settings: Settings) -> int:
    """The RAM store's share of --cache-size.

    On disk the store has it all. In memory mode libtorrent's working files on
    tmpfs hold every verified piece anyway, so a piece in the store too is held
    twice: the store keeps only what reads need at hand (two read-ahead windows, at
    least `MEMORY_STORE_MIN_BYTES` for heads and tails, never more than half the cache)
    and the working files get the rest; a read of a piece the store let go is served
    from the working files.
    """
    cache = settings.cache_bytes
    if settings.storage.mode is not StorageMode.MEMORY:
        return cache
    at_hand = max(2 * settings.stream.readahead_max_bytes, MEMORY_STORE_MIN_BYTES)
    return min(cache // 2, at_hand)


def working_files_budget(settings: Settings) -> int | None:
    """The budget of libtorrent's working files: the rest of --cache-size in RAM, or
    --disk-limit on disk (None: no limit)."""
    if settings.storage.mode is StorageMode.MEMORY:
        return settings.cache_bytes - store_bytes(settings)
    return settings.storage.disk_limit_bytes
