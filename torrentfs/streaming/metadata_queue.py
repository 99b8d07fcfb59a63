"""Magnets waiting for a place in the swarm to fetch their metadata, let in turn by turn
while fewer than `--max-active` torrents are in it."""

from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import trio

from torrentfs.wakeup import Wakeup

# While magnets wait for a place in the swarm: how often to look whether one freed up (a
# torrent leaving takes a round trip to libtorrent).
CHECK_S = 0.25


class Waiting(Protocol):
    queued: bool
    removed: bool


Entry = TypeVar("Entry", bound=Waiting)


class MetadataQueue(Generic[Entry]):
    """Entries in the order they came; `run` starts them as places free up."""

    def __init__(
        self, max_active: int, in_swarm: Callable[[], int], start: Callable[[Entry], None]
    ) -> None:
        self._max_active = max_active
        self._in_swarm = in_swarm
        self._start = start
        self._waiting: deque[Entry] = deque()
        self._moved = Wakeup()

    def add(self, entry: Entry) -> None:
        entry.queued = True
        self._waiting.append(entry)
        self._moved.set()

    def place_freed(self) -> None:
        """A torrent may have left the swarm: look again."""
        self._moved.set()

    async def run(self) -> None:
        """Until cancelled: start the waiting entries (those not removed meanwhile) while
        there is room in the swarm."""
        while True:
            await self._moved.wait()
            while self._waiting:
                room = self._max_active - self._in_swarm()
                while room > 0 and self._waiting:
                    entry = self._waiting.popleft()
                    entry.queued = False
                    if not entry.removed:
                        self._start(entry)
                        room -= 1
                if self._waiting:
                    await trio.sleep(CHECK_S)
