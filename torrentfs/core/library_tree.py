"""The folder tree of a library mount: the watch folder's subfolders, and one folder per
torrent in the subfolder its file is in, each holding its torrent's tree.

Pure logic. The root is inode 1; torrent number k (from 1, never reused in a
mount) owns the inodes from k << INODE_SHIFT on: its own tree's inode i is
(k << INODE_SHIFT) + i, so its folder is (k << INODE_SHIFT) + ROOT_INODE.
A subfolder gets a number of its own from FOLDER_NUMBERS_FROM on, and its
inode the same way. Folders are named after their torrents, sanitised as
file names are, with " (2)" and so on for a name already taken in the same
folder. A torrent whose files are not known yet (its metadata is on its
way) has an empty folder. A subfolder shows while it holds a torrent at any
depth.

Lookups and listings cost the same whatever the library's size: a node is
found by its inode's number in a dict, and a folder lists only its own
entries.
"""

from typing import Protocol

from torrentfs.core.tree import ROOT_INODE, FileTree, Node, sanitize_name, unique_name

INODE_SHIFT = 32
_LOCAL_MASK = (1 << INODE_SHIFT) - 1
# Subfolders' numbers: far above any torrent's (a mount would need 2**30 torrents to meet
# them), and below 2**31 so that every inode fits in 63 bits.
FOLDER_NUMBERS_FROM = 1 << 30
SEPARATOR = "/"


def split_inode(inode: int) -> tuple[int, int]:
    """(torrent or folder number, inode in its own tree); number 0 is the root."""
    return inode >> INODE_SHIFT, inode & _LOCAL_MASK


def library_inode(number: int, local_inode: int) -> int:
    return (number << INODE_SHIFT) + local_inode


def parent_folder(path: str) -> str:
    """The subfolder (relative, "" for the top) a watch-folder path is in."""
    return path.rpartition(SEPARATOR)[0]


class TreeChanges(Protocol):
    """Who must hear of a change the kernel may have cached (the FUSE layer)."""

    def entry_gone(self, parent_inode: int, name: str) -> None:
        """`name` in folder `parent_inode` no longer is (removed, renamed or moved)."""

    def node_changed(self, inode: int) -> None:
        """The folder `inode` has other entries or attributes than before."""


class LibraryTree:
    """The root, the subfolders and every torrent's tree, addressed by library inode.

    Every change is told to `changes`, if set: the kernel may then cache
    entries and attributes for as long as it likes (with 1 s, `find` over
    10 000 torrents looked every folder up again halfway through).
    """

    changes: TreeChanges | None = None

    def __init__(self) -> None:
        root = Node(ROOT_INODE, "", ROOT_INODE)
        # Subfolders by their watch-folder path ("" is the root) and by inode.
        self._folders: dict[str, Node] = {"": root}
        self._folder_paths: dict[int, str] = {ROOT_INODE: ""}
        # How many torrents each subfolder holds at any depth: it goes at zero.
        self._holds: dict[str, int] = {"": 0}
        self._next_folder = FOLDER_NUMBERS_FROM
        self._names: dict[int, str] = {}
        self._places: dict[int, str] = {}
        self._trees: dict[int, FileTree | None] = {}

    def add(self, number: int, name: str, tree: FileTree | None, folder: str = "") -> str:
        """Show torrent `number` as a folder in subfolder `folder` (a watch-folder path,
        "" for the top, made as needed); returns the folder's name."""
        parent = self._hold(folder)
        shown = unique_name(parent, sanitize_name(name))
        parent.children[shown] = library_inode(number, ROOT_INODE)
        parent.subdirs += 1
        self._names[number] = shown
        self._places[number] = folder
        self._trees[number] = tree
        if self.changes is not None:
            self.changes.node_changed(parent.inode)
        return shown

    def set_tree(self, number: int, tree: FileTree) -> None:
        """Torrent `number`'s files, once its metadata is known."""
        self._trees[number] = tree
        if self.changes is not None:
            self.changes.node_changed(library_inode(number, ROOT_INODE))

    def rename(self, number: int, name: str) -> str:
        """Name torrent `number`'s folder anew (same inode); returns the new name."""
        return self.move(number, self._places[number], name)

    def move(self, number: int, folder: str, name: str | None = None) -> str:
        """Show torrent `number` in subfolder `folder` (same inode, so open files read on),
        under `name` or its own; returns its folder's name."""
        tree = self._trees[number]
        name = name if name is not None else self._names[number]
        self.remove(number)
        return self.add(number, name, tree, folder)

    def remove(self, number: int) -> None:
        shown = self._names.pop(number, None)
        if shown is None:
            return
        folder = self._places.pop(number)
        parent = self._folders[folder]
        del parent.children[shown]
        parent.subdirs -= 1
        del self._trees[number]
        self._gone(parent, shown)
        self._release(folder)

    def tree_of(self, number: int) -> FileTree | None:
        """Torrent `number`'s own tree, once its files are known."""
        return self._trees.get(number)

    def folder_name(self, number: int) -> str | None:
        return self._names.get(number)

    def place_of(self, number: int) -> str | None:
        """The watch-folder subfolder torrent `number` shows in ("" for the top)."""
        return self._places.get(number)

    def path_of(self, number: int) -> str | None:
        """Where torrent `number`'s folder is, from the mount's root ("tv/Show")."""
        shown = self._names.get(number)
        if shown is None:
            return None
        folder = self._shown_path(self._places[number])
        return f"{folder}{SEPARATOR}{shown}" if folder else shown

    def node(self, inode: int) -> Node | None:
        number, local = split_inode(inode)
        if local == ROOT_INODE and inode in self._folder_paths:
            return self._folders[self._folder_paths[inode]]
        if number not in self._names:
            return None
        tree = self._trees[number]
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
        """How many nodes: the folders, and each torrent's tree (its folder if none yet)."""
        torrents = sum(len(tree) if tree else 1 for tree in self._trees.values())
        return len(self._folders) + torrents

    def _hold(self, folder: str) -> Node:
        """Subfolder `folder`'s node, made (with its parents) if new; counts one more
        torrent in it and in each of its parents."""
        path = folder
        while True:
            self._holds[path] = self._holds.get(path, 0) + 1
            if path == "":
                break
            path = parent_folder(path)
        return self._folder(folder)

    def _folder(self, folder: str) -> Node:
        existing = self._folders.get(folder)
        if existing is not None:
            return existing
        parent = self._folder(parent_folder(folder))
        inode = library_inode(self._next_folder, ROOT_INODE)
        self._next_folder += 1
        shown = unique_name(parent, sanitize_name(folder.rpartition(SEPARATOR)[2]))
        node = Node(inode, shown, parent.inode)
        parent.children[shown] = inode
        parent.subdirs += 1
        self._folders[folder] = node
        self._folder_paths[inode] = folder
        return node

    def _release(self, folder: str) -> None:
        """One torrent fewer in `folder` and its parents; a subfolder left with none goes."""
        path = folder
        while True:
            self._holds[path] -= 1
            if path == "":
                return
            if self._holds[path] == 0:
                node = self._folders.pop(path)
                del self._holds[path]
                del self._folder_paths[node.inode]
                parent = self._folders[parent_folder(path)]
                del parent.children[node.name]
                parent.subdirs -= 1
                self._gone(parent, node.name)
            path = parent_folder(path)

    def _gone(self, parent: Node, name: str) -> None:
        if self.changes is not None:
            self.changes.entry_gone(parent.inode, name)
            self.changes.node_changed(parent.inode)

    def _shown_path(self, folder: str) -> str:
        """A subfolder's path as the mount shows it (its names sanitised or numbered)."""
        names = []
        while folder:
            names.append(self._folders[folder].name)
            folder = parent_folder(folder)
        return SEPARATOR.join(reversed(names))

    def _folder_without_files(self, number: int) -> Node:
        return Node(
            library_inode(number, ROOT_INODE), self._names[number], self._parent_inode(number)
        )

    def _parent_inode(self, number: int) -> int:
        return self._folders[self._places[number]].inode

    def _translate(self, number: int, node: Node) -> Node:
        """A torrent tree's node as the library shows it."""
        is_top = node.inode == ROOT_INODE
        return Node(
            inode=library_inode(number, node.inode),
            name=self._names[number] if is_top else node.name,
            parent=self._parent_inode(number) if is_top else library_inode(number, node.parent),
            file=node.file,
            children={name: library_inode(number, i) for name, i in node.children.items()},
            subdirs=node.subdirs,
        )
