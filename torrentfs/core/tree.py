"""The folder tree a mount shows: inodes built from a torrent's file list.

Pure logic. Names are sanitised so that nothing can resolve outside the
mount (no "..", no "/" or NUL inside a name, no empty names, at most 255
bytes), padding files (BEP 47) are hidden, and clashing names get a suffix.
Inode numbers follow the torrent's file order, so the same torrent gets the
same inodes on every mount.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from torrentfs.core.layout import FileEntry, TorrentLayout

ROOT_INODE = 1
NAME_MAX_BYTES = 255
_PLACEHOLDER_NAME = "_"


@dataclass
class Node:
    inode: int
    name: str
    parent: int
    # None for a directory.
    file: FileEntry | None = None
    children: dict[str, int] = field(default_factory=dict)
    subdirs: int = 0

    @property
    def is_dir(self) -> bool:
        return self.file is None


class FileTree:
    """Directories and files of one torrent, addressed by inode."""

    def __init__(self, layout: TorrentLayout) -> None:
        self._nodes: dict[int, Node] = {ROOT_INODE: Node(ROOT_INODE, "", ROOT_INODE)}
        for entry in layout.files:
            if not entry.is_padding:
                self._add_file(entry)

    def node(self, inode: int) -> Node | None:
        return self._nodes.get(inode)

    def lookup(self, parent: int, name: str) -> Node | None:
        directory = self._nodes.get(parent)
        if directory is None or not directory.is_dir:
            return None
        inode = directory.children.get(name)
        return None if inode is None else self._nodes[inode]

    def children(self, inode: int) -> list[Node]:
        """Entries of a directory, sorted by name."""
        directory = self._nodes[inode]
        return [self._nodes[directory.children[name]] for name in sorted(directory.children)]

    def files(self) -> Iterator[Node]:
        return (node for node in self._nodes.values() if node.file is not None)

    def path_of(self, inode: int) -> str:
        parts = []
        node = self._nodes[inode]
        while node.inode != ROOT_INODE:
            parts.append(node.name)
            node = self._nodes[node.parent]
        return "/".join(reversed(parts))

    def __len__(self) -> int:
        return len(self._nodes)

    def _add_file(self, entry: FileEntry) -> None:
        components = [sanitize_name(p) for p in entry.path if p not in ("", ".")]
        components = components or [_PLACEHOLDER_NAME]
        directory = self._nodes[ROOT_INODE]
        for component in components[:-1]:
            directory = self._directory_child(directory, component)
        name = unique_name(directory, components[-1])
        self._new_node(name, directory, entry)

    def _directory_child(self, directory: Node, name: str) -> Node:
        existing = directory.children.get(name)
        if existing is not None and self._nodes[existing].is_dir:
            return self._nodes[existing]
        return self._new_node(unique_name(directory, name), directory, None)

    def _new_node(self, name: str, parent: Node, entry: FileEntry | None) -> Node:
        node = Node(len(self._nodes) + 1, name, parent.inode, entry)
        self._nodes[node.inode] = node
        parent.children[name] = node.inode
        if entry is None:
            parent.subdirs += 1
        return node


def path_in_mount(torrent_path: tuple[str, ...]) -> tuple[str, ...]:
    """Where a file the torrent names `torrent_path` shows in the mount.

    Multi-file torrents put everything under a folder named after the
    torrent; the mountpoint already plays that part.
    """
    return torrent_path[1:] if len(torrent_path) > 1 else torrent_path


def sanitize_name(component: str) -> str:
    """One path component made safe to show: no separators, no NUL, not "..", ≤ 255 bytes."""
    name = component.replace("/", "_").replace("\0", "_")
    if name in ("", ".", ".."):
        return _PLACEHOLDER_NAME
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > NAME_MAX_BYTES:
        name = encoded[:NAME_MAX_BYTES].decode("utf-8", "ignore")
    return name


def unique_name(directory: Node, name: str) -> str:
    """`name`, or with " (2)", " (3)"... before its extension if `directory` has it."""
    if name not in directory.children:
        return name
    stem, dot, extension = name.rpartition(".")
    if not stem:
        stem, dot, extension = name, "", ""
    counter = 2
    while True:
        candidate = sanitize_name(f"{stem} ({counter}){dot}{extension}")
        if candidate not in directory.children:
            return candidate
        counter += 1
