"""What every face of a mount (FUSE, HTTP) asks of what it shows: one torrent's
`TorrentContent` or a `Library` of them. Each face translates its requests into these
calls and decides no streaming policy of its own."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.status_schema import LibraryStatus, MountStatus
from torrentfs.core.tree import ROOT_INODE, Node
from torrentfs.core.url_paths import path_names


class Tree(Protocol):
    def node(self, inode: int) -> Node | None: ...

    def lookup(self, parent: int, name: str) -> Node | None: ...

    def children(self, inode: int) -> list[Node]: ...

    def __len__(self) -> int: ...


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
