"""HTTP clients as readers: a client's successive range requests on one file are one
reader to the streaming layer, as one open file is.

A player reads a file over HTTP as a run of range requests, often on new
connections. Each (client, file) keeps one reader (`MountContent.open_file`)
across them, so the read-ahead window, seeks, head and tail and the idle pause
work as they do for a FUSE reader. A reader no request uses is closed
`linger_s` after its last request ended well, and at once when a client went
away in the middle of one.
"""

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import trio

from torrentfs.core.tree import Node
from torrentfs.streaming.mount_content import MountContent

log = logging.getLogger(__name__)

# Who a client is: its address and what it says it is (two players on one machine differ).
ClientKey = tuple[str, str]


@dataclass
class HttpReader:
    handle: int
    requests: int = 0
    last_used: float = 0.0
    # The request reading now; a newer one cancels it.
    _current: trio.CancelScope | None = None

    @contextmanager
    def superseding(self) -> Iterator[trio.CancelScope]:
        """A scope for one request's reading that cancels the request reading before it,
        and is cancelled by the next."""
        if self._current is not None:
            self._current.cancel()
        with trio.CancelScope() as scope:
            self._current = scope
            try:
                yield scope
            finally:
                if self._current is scope:
                    self._current = None


class HttpReaders:
    """The readers of HTTP clients, from construction until `close()`."""

    def __init__(self, content: MountContent, linger_s: float) -> None:
        self._content = content
        self._linger_s = linger_s
        self._readers: dict[tuple[ClientKey, int], HttpReader] = {}

    @asynccontextmanager
    async def reading(self, client: ClientKey, node: Node) -> AsyncIterator[HttpReader]:
        """The client's reader of `node`'s file for one request."""
        key = (client, node.inode)
        reader = self._readers.get(key)
        if reader is None:
            reader = HttpReader(self._content.open_file(node))
            self._readers[key] = reader
        reader.requests += 1
        finished = False
        try:
            yield reader
            finished = True
        finally:
            reader.requests -= 1
            reader.last_used = trio.current_time()
            if not finished and not reader.requests:
                # The client went away (or the read failed): nobody is left to read on.
                self._close(key)

    async def run(self) -> None:
        """Until cancelled: close the readers no request used for `linger_s`."""
        while True:
            await trio.sleep(self._linger_s / 2)
            now = trio.current_time()
            for key, reader in list(self._readers.items()):
                if not reader.requests and now - reader.last_used >= self._linger_s:
                    self._close(key)

    def close(self) -> None:
        for key in list(self._readers):
            self._close(key)

    def _close(self, key: tuple[ClientKey, int]) -> None:
        reader = self._readers.pop(key, None)
        if reader is not None:
            self._content.close_file(reader.handle)
