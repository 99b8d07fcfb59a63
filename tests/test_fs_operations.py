"""The FUSE operations called directly, as the kernel would call them, with no mount.

In the style of s3ql's `tests/t3_fs_api.py`: the real content, a real
libtorrent session and a loopback seeder behind `TorrentOperations`, and
only the kernel left out, so errno choices and bytes are checked without
FUSE in between.
"""

import errno
import json
import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

import pyfuse3
import pytest
import trio

from tests.helpers import SEEDER_ADDRESS, loopback_network
from torrentfs.core.config import Settings
from torrentfs.core.source import parse_source
from torrentfs.core.status_schema import STATUS_FILE
from torrentfs.core.tree import ROOT_INODE
from torrentfs.engine.session import Session
from torrentfs.engine.storage import Storage
from torrentfs.fuse.operations import PROGRESS_XATTR, TorrentOperations
from torrentfs.streaming.content import TorrentContent
from torrentfs_tools.loopback import Seeder

LIVENESS_S = 60.0
FLAC = "01 - Überture.flac"


async def _errno_of(call: Awaitable[object]) -> int:
    with pytest.raises(pyfuse3.FUSEError) as raised:
        await call
    return raised.value.errno


def _with_operations(
    sample, scenario: Callable[[TorrentOperations, pyfuse3.RequestContext], Awaitable[None]]
) -> None:
    with Seeder(sample.data, sample.parent, SEEDER_ADDRESS) as seeder:
        network = loopback_network(seeder.endpoint)
        settings = Settings(network=network)
        storage = Storage(settings.storage.mode)
        try:
            with Session(network) as session:
                torrent = session.add_torrent(parse_source(str(sample.torrent_path)), storage)
                content = TorrentContent(torrent, settings)
                operations = TorrentOperations(content)

                async def main() -> None:
                    with trio.fail_after(LIVENESS_S):
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(session.run)
                            nursery.start_soon(content.run)
                            torrent.start(content)
                            await scenario(operations, pyfuse3.RequestContext())
                            nursery.cancel_scope.cancel()

                trio.run(main)
        finally:
            storage.close()


def test_lookup_open_read_and_release_give_the_files_bytes(multi_file):
    expected = multi_file.files()[f"CD1/{FLAC}"]

    async def scenario(ops: TorrentOperations, ctx: pyfuse3.RequestContext) -> None:
        root = await ops.getattr(ROOT_INODE, ctx)
        assert stat.S_ISDIR(root.st_mode)
        folder = await ops.lookup(ROOT_INODE, b"CD1", ctx)
        assert stat.S_ISDIR(folder.st_mode)
        entry = await ops.lookup(folder.st_ino, FLAC.encode(), ctx)
        assert stat.S_ISREG(entry.st_mode) and entry.st_size == len(expected)
        assert entry.st_mode & 0o222 == 0  # read-only
        info = await ops.open(entry.st_ino, os.O_RDONLY, ctx)
        assert info.keep_cache
        assert await ops.read(info.fh, 0, 100_000) == expected[:100_000]
        tail = len(expected) - 5000
        # A read past the end gets what there is.
        assert await ops.read(info.fh, tail, 65536) == expected[tail:]
        status = await _status(ops, ctx)
        assert [reader["path"] for reader in status["open_files"]] == [f"CD1/{FLAC}"]
        progress = float(await ops.getxattr(entry.st_ino, PROGRESS_XATTR, ctx))
        assert 0 < progress <= 1
        await ops.release(info.fh)
        status = await _status(ops, ctx)
        assert status["open_files"] == []

    _with_operations(multi_file, scenario)


async def _status(ops: TorrentOperations, ctx: pyfuse3.RequestContext) -> dict[str, Any]:
    """The status file read as a program would: looked up, opened, read to its end."""
    entry = await ops.lookup(ROOT_INODE, STATUS_FILE.encode(), ctx)
    info = await ops.open(entry.st_ino, os.O_RDONLY, ctx)
    assert info.direct_io
    document = b""
    while chunk := await ops.read(info.fh, len(document), 4096):
        document += chunk
    await ops.release(info.fh)
    return json.loads(document)


def test_what_cannot_be_done_gets_the_errno_the_kernel_expects(multi_file):
    async def scenario(ops: TorrentOperations, ctx: pyfuse3.RequestContext) -> None:
        assert await _errno_of(ops.lookup(ROOT_INODE, b"missing", ctx)) == errno.ENOENT
        folder = await ops.lookup(ROOT_INODE, b"CD1", ctx)
        cover = await ops.lookup(ROOT_INODE, b"cover.jpg", ctx)
        assert await _errno_of(ops.open(cover.st_ino, os.O_WRONLY, ctx)) == errno.EROFS
        assert await _errno_of(ops.open(cover.st_ino, os.O_RDONLY | os.O_TRUNC, ctx)) == (
            errno.EROFS
        )
        assert await _errno_of(ops.open(folder.st_ino, os.O_RDONLY, ctx)) == errno.EISDIR
        assert await _errno_of(ops.opendir(cover.st_ino, ctx)) == errno.ENOTDIR
        assert await _errno_of(ops.getattr(10**9, ctx)) == errno.ENOENT
        assert await _errno_of(ops.getxattr(folder.st_ino, PROGRESS_XATTR, ctx)) == (errno.ENODATA)
        assert await ops.listxattr(folder.st_ino, ctx) == []
        assert await ops.listxattr(cover.st_ino, ctx) == [PROGRESS_XATTR]

    _with_operations(multi_file, scenario)
