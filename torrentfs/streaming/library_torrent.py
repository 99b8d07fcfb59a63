"""What a library needs of its torrents and their session, and how it names and describes
a torrent (pure, but for the protocols' types)."""

from dataclasses import dataclass, field
from typing import Protocol

import trio

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.source import Source
from torrentfs.core.watch_folder import MAGNET_SUFFIX
from torrentfs.streaming.content import TorrentContent, TorrentEngine
from torrentfs.streaming.mount_content import FETCHING_METADATA

# A torrent's state as `status` shows it: out of the swarm or idle in it; reading (a file
# open, or read within --idle-timeout); out of it for a moment to drop pieces; a magnet in
# the swarm for its metadata, or waiting for a place there to fetch it.
IDLE = "idle"
READING = "reading"
REJOINING = "rejoining"
QUEUED_FOR_METADATA = "queued for metadata"


class LibraryTorrent(TorrentEngine, Protocol):
    """What the library needs of a torrent beyond what its content does."""

    info_hash: str
    layout: TorrentLayout | None

    @property
    def in_session(self) -> bool: ...

    @property
    def rejoining(self) -> bool: ...

    def start(self, listener: TorrentContent) -> None: ...

    def metadata(self) -> bytes | None: ...


class TorrentSession(Protocol):
    """Where the library's torrents live (the engine's session, with storage for each)."""

    def add(self, source: Source) -> LibraryTorrent:
        """A torrent for `source`, not started; raises UserError if libtorrent refuses it."""

    def remove(self, torrent: LibraryTorrent) -> None: ...


def folder_name(file: str, source: Source, layout: TorrentLayout | None, info_hash: str) -> str:
    """The torrent's name; for a magnet its `dn` first, so that its folder keeps its name
    once its metadata is kept (a magnet without one is named by its hash until its
    metadata comes, then renamed)."""
    if file.endswith(MAGNET_SUFFIX) and source.display_name:
        return source.display_name
    return layout.name if layout else info_hash


def state(torrent: LibraryTorrent, started: bool, in_swarm: bool, reading: bool) -> str:
    """What `status` says of a torrent not queued for its metadata."""
    if torrent.rejoining:
        return REJOINING
    if started and torrent.layout is None:
        return FETCHING_METADATA
    return READING if in_swarm and reading else IDLE


@dataclass(eq=False)
class LibraryEntry:
    """A library's record of one of its torrents: its number, files, content and use."""

    number: int
    torrent: LibraryTorrent
    content: TorrentContent
    files: set[str]
    started: bool = False
    queued: bool = False
    # Trio time of the last open or close of one of its files.
    last_used: float = 0.0
    removed: bool = False
    open_handles: set[int] = field(default_factory=set)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    @property
    def in_swarm(self) -> bool:
        """Started and in the session now (not out of it until read again)."""
        return self.started and self.torrent.in_session
