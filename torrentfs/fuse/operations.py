"""The FUSE operations: translate kernel requests into questions to the mount's content.

The content is a `TorrentContent` (one torrent) or a `Library` (a folder per
torrent); both answer the `MountContent` protocol.

Read-only by construction: anything that would change the tree or a file's
bytes answers EROFS. Attributes are derived from the torrent (sizes, a stable
inode per path, mtime from its creation date) and never change, so the kernel
may cache them, and the file data, for as long as it likes.
"""

import contextlib
import errno
import functools
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, ParamSpec, TypeVar

import pyfuse3

from torrentfs.core.status_schema import STATUS_FILE
from torrentfs.core.tree import ROOT_INODE, Node
from torrentfs.streaming.mount_content import MetadataTimeout, MountContent, ReadTimeout, Tree

log = logging.getLogger(__name__)


# Torrent content never changes: let the kernel cache entries and attributes.
CACHE_TIMEOUT_S = 3600.0
# The root's attributes change once, when the metadata arrives.
ROOT_ATTR_TIMEOUT_S = 1.0
FILE_MODE = stat.S_IFREG | 0o444
DIR_MODE = stat.S_IFDIR | 0o555
BLOCK_SIZE = 512
# What `stat` suggests as a read size: large reads cost fewer round trips.
PREFERRED_IO_SIZE = 128 * 1024
NAME_MAX = 255
# On each file: the fraction of its pieces held, "0.0000" to "1.0000".
PROGRESS_XATTR = b"user.torrentfs.progress"
# The status file's inode and handles: above any a tree or its content hands out (a
# library's inodes stay below 2**63, handles count from 1).
STATUS_INODE = (1 << 63) + 1
STATUS_HANDLES_FROM = 1 << 62

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _bug_is_eio(
    handler: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Answer EIO for an unexpected exception, logged with its traceback.

    pyfuse3 lets any exception but FUSEError end its main loop: one bug
    would take the whole mount down for every program using it.
    """

    @functools.wraps(handler)
    async def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await handler(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except Exception:
            log.exception("bug in %s; answering EIO", handler.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return guarded


class KernelCache:
    """Tells the kernel to drop what it cached of a library's changed entries and folders
    (`core.library_tree.TreeChanges`)."""

    def entry_gone(self, parent_inode: int, name: str) -> None:
        pyfuse3.invalidate_entry_async(parent_inode, os.fsencode(name), ignore_enoent=True)

    def node_changed(self, inode: int) -> None:
        # Read-only, no writeback cache: this does not block. ENOENT: never looked at.
        with contextlib.suppress(OSError):
            pyfuse3.invalidate_inode(inode, attr_only=False)


class TorrentOperations(pyfuse3.Operations):
    """pyfuse3 request handlers over one torrent's content."""

    def __init__(self, content: MountContent) -> None:
        super().__init__()
        self._content = content
        self._uid = os.getuid()
        self._gid = os.getgid()
        self._mount_time_ns = time.time_ns()
        # Open directories: handle -> the entries as they were at opendir. Each readdir
        # call answers a slice; listing afresh per call made a folder of n entries cost
        # n * n / (entries per call).
        self._listings: dict[int, list[Node]] = {}
        self._next_listing = 1
        # Open status files: handle -> the document as it was at open.
        self._status_documents: dict[int, bytes] = {}
        self._next_status_handle = STATUS_HANDLES_FROM

    @_bug_is_eio
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        if inode == STATUS_INODE:
            return self._status_attributes()
        if inode == ROOT_INODE and self._content.tree is None:
            return self._attributes(Node(ROOT_INODE, "", ROOT_INODE))
        tree = await self._tree()
        return self._attributes(self._node(tree, inode))

    @_bug_is_eio
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        if parent_inode == ROOT_INODE and os.fsdecode(name) == STATUS_FILE:
            return self._status_attributes()
        tree = await self._tree()
        node = tree.lookup(parent_inode, os.fsdecode(name))
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attributes(node)

    @_bug_is_eio
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        tree = await self._tree()
        if not self._node(tree, inode).is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        handle = self._next_listing
        self._next_listing += 1
        self._listings[handle] = tree.children(inode)
        return handle

    @_bug_is_eio
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        children = self._listings[fh]
        for position in range(start_id, len(children)):
            child = children[position]
            if not pyfuse3.readdir_reply(
                token, os.fsencode(child.name), self._attributes(child), position + 1
            ):
                return

    async def releasedir(self, fh: int) -> None:
        self._listings.pop(fh, None)

    @_bug_is_eio
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise pyfuse3.FUSEError(errno.EROFS)
        if inode == STATUS_INODE:
            return self._open_status()
        tree = await self._tree()
        node = self._node(tree, inode)
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        return pyfuse3.FileInfo(fh=self._content.open_file(node), keep_cache=True)

    @_bug_is_eio
    async def read(self, fh: int, off: int, size: int) -> bytes:
        document = self._status_documents.get(fh)
        if document is not None:
            return document[off : off + size]
        try:
            return await self._content.read(fh, off, size)
        except ReadTimeout:
            raise pyfuse3.FUSEError(errno.EIO) from None

    async def release(self, fh: int) -> None:
        if self._status_documents.pop(fh, None) is None:
            self._content.close_file(fh)

    @_bug_is_eio
    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> bytes:
        if name == PROGRESS_XATTR and self._content.tree is not None:
            node = self._node(self._content.tree, inode)
            if node.file is not None:
                return f"{self._content.file_progress(node):.4f}".encode()
        raise pyfuse3.FUSEError(errno.ENODATA)

    @_bug_is_eio
    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> list[bytes]:
        tree = self._content.tree
        if tree is not None and self._node(tree, inode).file is not None:
            return [PROGRESS_XATTR]
        return []

    @_bug_is_eio
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        tree, layout = self._content.tree, self._content.layout
        data.f_bsize = data.f_frsize = BLOCK_SIZE
        data.f_blocks = -(-layout.total_size // BLOCK_SIZE) if layout else 0
        data.f_bfree = data.f_bavail = 0
        data.f_files = len(tree) if tree else 1
        data.f_ffree = data.f_favail = 0
        data.f_namemax = NAME_MAX
        return data

    async def access(self, inode: int, mode: int, ctx: pyfuse3.RequestContext) -> bool:
        return not mode & os.W_OK

    async def _refuse_write(self, *args: object, **kwargs: object) -> NoReturn:
        raise pyfuse3.FUSEError(errno.EROFS)

    # The mount is also "ro", so the kernel refuses most of these itself.
    setattr = write = create = mknod = mkdir = _refuse_write
    unlink = rmdir = rename = link = symlink = _refuse_write

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        # Inodes live as long as the mount; there is nothing to release.
        return None

    def _open_status(self) -> pyfuse3.FileInfo:
        """A snapshot of the status for this open; direct I/O, so every open reads anew and
        the file's size (0 in its attributes) does not cut the document short."""
        handle = self._next_status_handle
        self._next_status_handle += 1
        self._status_documents[handle] = json.dumps(self._content.status()).encode()
        return pyfuse3.FileInfo(fh=handle, direct_io=True, keep_cache=False)

    def _status_attributes(self) -> pyfuse3.EntryAttributes:
        attributes = self._attributes(Node(STATUS_INODE, STATUS_FILE, ROOT_INODE))
        attributes.st_mode = FILE_MODE
        attributes.st_nlink = 1
        attributes.attr_timeout = attributes.entry_timeout = 0
        return attributes

    async def _tree(self) -> Tree:
        try:
            return await self._content.wait_tree()
        except MetadataTimeout:
            raise pyfuse3.FUSEError(errno.EIO) from None

    @staticmethod
    def _node(tree: Tree, inode: int) -> Node:
        node = tree.node(inode)
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return node

    def _attributes(self, node: Node) -> pyfuse3.EntryAttributes:
        attributes = pyfuse3.EntryAttributes()
        attributes.st_ino = node.inode
        attributes.generation = 0
        mtime_ns = self._mtime_ns()
        attributes.st_atime_ns = attributes.st_mtime_ns = attributes.st_ctime_ns = mtime_ns
        attributes.st_uid = self._uid
        attributes.st_gid = self._gid
        if node.file is None:
            attributes.st_mode = DIR_MODE
            attributes.st_nlink = 2 + node.subdirs
            attributes.st_size = 0
        else:
            attributes.st_mode = FILE_MODE
            attributes.st_nlink = 1
            attributes.st_size = node.file.size
        attributes.st_blksize = PREFERRED_IO_SIZE
        attributes.st_blocks = -(-attributes.st_size // BLOCK_SIZE)
        # The root changes with the metadata (and a library's with every torrent); what
        # else changes, a library tells the kernel of (`KernelCache`).
        timeout = ROOT_ATTR_TIMEOUT_S if node.inode == ROOT_INODE else CACHE_TIMEOUT_S
        attributes.attr_timeout = timeout
        attributes.entry_timeout = timeout
        return attributes

    def _mtime_ns(self) -> int:
        layout = self._content.layout
        if layout is not None and layout.creation_date > 0:
            return layout.creation_date * 1_000_000_000
        return self._mount_time_ns
