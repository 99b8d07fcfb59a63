"""What a mount publishes about itself: the shape of its status, and where to find it.

The mount serves its status as JSON in a hidden file at its root,
`STATUS_FILE`, made afresh at each open; `torrentfs status` reads it back.
A file has no size cap (an extended attribute stops at 64 KiB, a library of
a few hundred torrents), and nothing lists it: `ls -a`, `find` and media
servers never see it. Both sides share these types, and nothing here
imports FUSE, trio or libtorrent, so the status command starts without them.
"""

from typing import NotRequired, TypedDict

# The mount's status as JSON: `cat MOUNTPOINT/.torrentfs-status`.
STATUS_FILE = ".torrentfs-status"


class StoreStatus(TypedDict):
    """The RAM store: verified pieces held for readers."""

    pieces: int
    bytes: int
    budget_bytes: int
    hits: int
    misses: int
    evictions: int


class ReaderStatus(TypedDict):
    """One open file handle: where it reads, its window, what is fetched ahead of it."""

    path: str
    position: int
    # The torrent's piece at that position.
    piece: int
    window_bytes: int
    rate_bytes_s: float | None
    buffered_bytes: int
    buffered_s: float | None


class PeerRequests(TypedDict):
    """One connected peer and the blocks libtorrent has asked it for and not received."""

    address: str
    client: str
    seed: bool
    download_rate: int
    requested_blocks: int
    # The pieces those blocks belong to.
    requested_pieces: list[int]


class TorrentStatus(TypedDict):
    """The torrent in libtorrent's session: its peers and transfer."""

    info_hash: str
    has_metadata: bool
    peers: int
    download_rate: int
    upload_rate: int
    downloaded_bytes: int
    uploaded_bytes: int
    listen_port: int
    # Each connected peer's outstanding requests (a torrent in the session only).
    peer_requests: NotRequired[list[PeerRequests]]


class MountStatus(TorrentStatus):
    """The whole mount: the torrent, its state, and (once the metadata is known) its reads."""

    name: str | None
    state: str
    working_files_bytes: NotRequired[int | None]
    # The torrent's bytes here, each counted once (in the RAM store, the working files or
    # both); and the RAM they take (a piece in both counts twice there): memory is
    # store bytes plus working files in RAM, and equals held plus held twice.
    held_bytes: NotRequired[int]
    memory_bytes: NotRequired[int]
    held_twice_bytes: NotRequired[int]
    # The pieces held, as inclusive [first, last] runs, for a picture of the torrent.
    held_ranges: NotRequired[list[tuple[int, int]]]
    num_pieces: NotRequired[int]
    piece_length: NotRequired[int]
    store: NotRequired[StoreStatus]
    requested_pieces: NotRequired[list[int]]
    claimed_pieces: NotRequired[list[int]]
    libtorrent_wanted_pieces: NotRequired[list[int]]
    cache_bytes: NotRequired[int]
    open_files: NotRequired[list[ReaderStatus]]


class LibraryTorrentStatus(TypedDict):
    """One torrent of a library: its folder, the watch-folder files naming it, and (while it
    is in the session) its mount status."""

    folder: str
    files: list[str]
    info_hash: str
    state: str
    status: MountStatus | None


class RejectedFile(TypedDict):
    file: str
    reason: str


class LibraryStatus(TypedDict):
    """A library mount: its watch folder, its torrents, and the files it could not use."""

    watch_folder: str
    # How many torrents the library has (`torrents` may list only some of them).
    torrent_count: int
    torrents: list[LibraryTorrentStatus]
    rejected: list[RejectedFile]
