"""HTTP clients as readers: a client's successive range requests on one file are one
reader to the streaming layer, as one open file is.

A player reads a file over HTTP as a run of range requests, often on new
connections. Each (client, file) keeps a reader (`MountContent.open_file`)
across them, so the read-ahead window, seeks, head and tail and the idle pause
work as they do for a FUSE reader. Requests of one client that overlap in
time get a reader each, as two open files would: a multi-connection
downloader, or two people behind one proxy, each read on, and a player that
opens its new range before it drops the old one is seeking. A reader no
request uses is closed `linger_s` after its last request ended well, and at
once when a client went away in the middle of one.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from torrentfs.core.tree import Node
from torrentfs.streaming.mount_content import MountContent

# Who a client is: its address and what it says it is (two players on one machine differ).
ClientKey = tuple[str, str]


@dataclass
class HttpReader:
    handle: int
    busy: bool = False
    last_used: float = 0.0


class HttpReaders:
    """The readers of HTTP clients, from construction until `close()`."""

    def __init__(self, content: MountContent, linger_s: float) -> None:
        self._content = content
        self._linger_s = linger_s
        self._readers: dict[tuple[ClientKey, int], list[HttpReader]] = {}

    @asynccontextmanager
    async def reading(self, client: ClientKey, node: Node) -> AsyncIterator[HttpReader]:
        """A reader of `node`'s file for one request of `client`: the one its last request
        used if no request is using it now, else a new one."""
        key = (client, node.inode)
        readers = self._readers.setdefault(key, [])
        idle = [reader for reader in readers if not reader.busy]
        if idle:
            reader = max(idle, key=lambda reader: reader.last_used)
        else:
            reader = HttpReader(self._content.open_file(node))
            readers.append(reader)
        reader.busy = True
        finished = False
        try:
            yield reader
            finished = True
        finally:
            reader.busy = False
            reader.last_used = trio.current_time()
            if not finished:
                # The client went away (or the read failed): nobody is left to read on.
                self._close(key, reader)

    async def run(self) -> None:
        """Until cancelled: close the readers no request used for `linger_s`."""
        while True:
            await trio.sleep(self._linger_s / 2)
            now = trio.current_time()
            for key, readers in list(self._readers.items()):
                for reader in list(readers):
                    if not reader.busy and now - reader.last_used >= self._linger_s:
                        self._close(key, reader)

    def close(self) -> None:
        for key, readers in list(self._readers.items()):
            for reader in list(readers):
                self._close(key, reader)

    def _close(self, key: tuple[ClientKey, int], reader: HttpReader) -> None:
        readers = self._readers.get(key, [])
        if reader in readers:
            readers.remove(reader)
            self._content.close_file(reader.handle)
        if not readers:
            self._readers.pop(key, None)
