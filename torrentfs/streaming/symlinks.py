"""A folder of symlinks mirroring a library: `DIR/PATH/FILE` -> `MOUNTPOINT/PATH/FILE` for
every file of every torrent whose files are known.

Sonarr and Radarr import a download by hardlink (impossible into a FUSE mount),
copy (every byte fetched) or move. A symlink moved into the media library is a
rename that fetches nothing, and the media server follows it into the mount,
streaming on demand. A torrent removed takes its symlinks with it; one the
*arr already moved dangles until the torrent is added again, when the mount
shows its files at the same path.
"""

import contextlib
import logging
import os
import shutil
from pathlib import Path

from torrentfs.core.library_tree import LibraryTree
from torrentfs.core.tree import FileTree

log = logging.getLogger(__name__)


class SymlinkMirror:
    def __init__(self, root: Path, mountpoint: Path) -> None:
        """Raises OSError if `root` cannot be made."""
        self.root = root
        self._mountpoint = mountpoint.resolve()
        root.mkdir(parents=True, exist_ok=True)

    def show_torrent(self, library: LibraryTree, number: int) -> None:
        """Links for the files of torrent `number` where the library shows it, once its
        files are known."""
        tree, path = library.tree_of(number), library.path_of(number)
        if tree is not None and path is not None:
            self.show(path, tree)

    def hide_torrent(self, library: LibraryTree, number: int) -> None:
        path = library.path_of(number)
        if path is not None:
            self.hide(path)

    def show(self, path: str, tree: FileTree) -> None:
        """Links for the files of the torrent shown at `path` in the mount."""
        for node in tree.files():
            relative = tree.path_of(node.inode)
            link = self.root / path / relative
            target = self._mountpoint / path / relative
            try:
                if link.is_symlink() and os.readlink(link) == str(target):
                    continue
                link.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    link.unlink()
                link.symlink_to(target)
            except OSError as error:
                log.warning("cannot link %s: %s", link, error.strerror)
                return

    def hide(self, path: str) -> None:
        """Remove the links of the torrent at `path`, and folders left empty above them."""
        folder = self.root / path
        if folder.is_symlink() or folder.is_file():
            folder.unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
        parent = folder.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
