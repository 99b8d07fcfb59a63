"""The folder tree of a library mount: one folder per torrent, each holding its torrent's tree.

Pure logic. The root is inode 1; torrent number k (from 1, never reused in a
mount) owns the inodes from k << INODE_SHIFT on: its own tree's inode i is
(k << INODE_SHIFT) + i, so its folder is (k << INODE_SHIFT) + ROOT_INODE.
Folders are named after their torrents, sanitised as file names are, with
" (2)" and so on for a name already taken. A torrent whose files are not
known yet (its metadata is on its way) has an empty folder.
"""

from torrentfs.core.tree import ROOT_INODE, FileTree, Node, sanitize_name, unique_name

INODE_SHIFT = 32
_LOCAL_MASK = (1 << INODE_SHIFT) - 1


def split_inode(inode: int) -> tuple[int, int]:
    """(torrent number, inode in its own tree); torrent number 0 is the root."""
    return inode >> INODE_SHIFT, inode & _LOCAL_MASK


def library_inode(number: int, local_inode: int) -> int:
    return (number << INODE_SHIFT) + local_inode


class LibraryTree:
    """The root folder and every torrent's tree, addressed by library inode."""

    def __init__(self) -> None:
        self._root = Node(ROOT_INODE, "", ROOT_INODE)
        self._names: dict[int, str] = {}
        self._trees: dict[int, FileTree | None] = {}

    def add(self, number: int, name: str, tree: FileTree | None) -> str:
        """Show torrent `number` as a folder; returns the folder's name."""
        folder = unique_name(self._root, sanitize_name(name))
        self._root.children[folder] = library_inode(number, ROOT_INODE)
        self._root.subdirs += 1
        self._names[number] = folder
        self._trees[number] = tree
        return folder

    def set_tree(self, number: int, tree: FileTree) -> None:
        """Torrent `number`'s files, once its metadata is known."""
        self._trees[number] = tree

    def rename(self, number: int, name: str) -> str:
        """Name torrent `number`'s folder anew (same inode); returns the new name."""
        del self._root.children[self._names[number]]
        folder = unique_name(self._root, sanitize_name(name))
        self._root.children[folder] = library_inode(number, ROOT_INODE)
        self._names[number] = folder
        return folder

    def remove(self, number: int) -> None:
        folder = self._names.pop(number, None)
        if folder is not None:
            del self._root.children[folder]
            self._root.subdirs -= 1
            del self._trees[number]

    def folder_name(self, number: int) -> str | None:
        return self._names.get(number)

    def node(self, inode: int) -> Node | None:
        if inode == ROOT_INODE:
            return self._root
        number, local = split_inode(inode)
        tree = self._trees.get(number)
        if number not in self._names:
            return None
        if tree is None:
            return self._folder_without_files(number) if local == ROOT_INODE else None
        local_node = tree.node(local)
        return None if local_node is None else self._translate(number, local_node)

    def lookup(self, parent: int, name: str) -> Node | None:
        directory = self.node(parent)
        if directory is None or not directory.is_dir:
            return None
        inode = directory.children.get(name)
        return None if inode is None else self.node(inode)

    def children(self, inode: int) -> list[Node]:
        """Entries of a directory, sorted by name."""
        directory = self.node(inode)
        assert directory is not None and directory.is_dir
        found = (self.node(directory.children[name]) for name in sorted(directory.children))
        return [node for node in found if node is not None]

    def __len__(self) -> int:
        """How many nodes: the root, and each torrent's tree (its folder if none yet)."""
        return 1 + sum(len(tree) if tree else 1 for tree in self._trees.values())

    def _folder_without_files(self, number: int) -> Node:
        return Node(library_inode(number, ROOT_INODE), self._names[number], ROOT_INODE)

    def _translate(self, number: int, node: Node) -> Node:
        """A torrent tree's node as the library shows it."""
        is_top = node.inode == ROOT_INODE
        return Node(
            inode=library_inode(number, node.inode),
            name=self._names[number] if is_top else node.name,
            parent=ROOT_INODE if is_top else library_inode(number, node.parent),
            file=node.file,
            children={name: library_inode(number, i) for name, i in node.children.items()},
            subdirs=node.subdirs,
        )
