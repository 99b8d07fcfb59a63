"""What every face of a mount (FUSE, HTTP) asks of what it shows: one torrent's
`TorrentContent` or a `Library` of them. Each face translates its requests into these
calls and decides no streaming policy of its own."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.status_schema import LibraryStatus, LibraryTorrentStatus, MountStatus
from torrentfs.core.tree import ROOT_INODE, Node
from torrentfs.core.url_paths import path_names


class Tree(Protocol):
    def node(self, inode: int) -> Node | None: ...

    def lookup(self, parent: int, name: str) -> Node | None: ...

    def children(self, inode: int) -> list[Node]: ...

    def __len__(self) -> int: ...


# A torrent's state while its metadata is on its way (statuses the faces show).
FETCHING_METADATA = "fetching metadata"


class MetadataTimeout(Exception):
    """The torrent's metadata did not arrive within the configured time."""


class ReadTimeout(Exception):
    """A read waited longer than --read-timeout for its pieces."""


class MountContent(Protocol):
    """A mount's files and their readers."""

    @property
    def tree(self) -> Tree | None: ...

    @property
    def layout(self) -> TorrentLayout | None:
        """The one torrent's layout (for file times); None for a library."""

    async def wait_tree(self) -> Tree:
        """The tree, waiting for a single torrent's metadata; raises MetadataTimeout."""

    def open_file(self, node: Node) -> int:
        """A reader for `node`'s file (starting a library's torrent); its handle."""

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        """Raises ReadTimeout after --read-timeout of waiting for pieces."""

    def close_file(self, handle: int) -> None: ...

    def file_progress(self, node: Node) -> float: ...

    def status(self) -> MountStatus | LibraryStatus: ...


@runtime_checkable
class LibraryContent(MountContent, Protocol):
    """A library's content: its status, and one torrent's found by its info-hash (the
    *arr's API)."""

    def status(self) -> LibraryStatus: ...

    def torrent_status(self, info_hash: str) -> LibraryTorrentStatus | None: ...


def resolve(tree: Tree, path: str) -> Node | None:
    """The node at `path` ("a/b", from the root), or None if there is none or the path is not
    a plain one (`core.url_paths`)."""
    names = path_names(path)
    if names is None:
        return None
    node = tree.node(ROOT_INODE)
    for name in names:
        if node is None or not node.is_dir:
            return None
        node = tree.lookup(node.inode, name)
    return node


@dataclass(frozen=True)
class MountPlaces:
    """What a face knows of the mount it serves."""

    content: MountContent
    mountpoint: Path
    # A library's: where its torrents' files are, and its symlink mirror (--symlink-dir).
    watch_folder: Path | None = None
    symlink_dir: Path | None = None


# Another face of the mount, run beside the FUSE one in the same trio loop until cancelled.
Face = Callable[[MountPlaces], Awaitable[None]]
