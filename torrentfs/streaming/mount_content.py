"""What every face of a mount (FUSE, HTTP) asks of what it shows: one torrent's
`TorrentContent` or a `Library` of them. Each face translates its requests into these
calls and decides no streaming policy of its own."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from torrentfs.core.layout import TorrentLayout
from torrentfs.core.status_schema import LibraryStatus, MountStatus
from torrentfs.core.tree import Node


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


# Another face of the mount, run beside the FUSE one in the same trio loop until cancelled:
# it gets the content, and a library's watch folder (None for a single torrent).
Face = Callable[[MountContent, Path | None], Awaitable[None]]
