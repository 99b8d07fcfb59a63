"""Keeping libtorrent's working files within their budget by forgetting the oldest pieces."""

from collections.abc import Awaitable, Callable, Sequence

from torrentfs.core.budget import WorkingFiles
from torrentfs.core.layout import TorrentLayout
from torrentfs.engine.deadlines import Deadlines
from torrentfs.wakeup import Wakeup

# The working files' budget in bytes, or how to learn it now.
FilesBudget = int | Callable[[], int]


class BudgetKeeper:
    """Counts the pieces that reach the working files; forgets in batches past the budget.

    In batches, since each forget costs the torrent its connections.
    """

    def __init__(
        self,
        budget_bytes: FilesBudget,
        drop: Callable[[list[int]], Awaitable[bool]],
        deadlines: Deadlines,
    ) -> None:
        """`budget_bytes`: a number, or asked each time (a library's share changes as
        torrents come and go); `drop` makes libtorrent drop pieces (False if it could
        not); pieces in `deadlines` are being waited for and must stay."""
        self._budget = budget_bytes if callable(budget_bytes) else lambda: budget_bytes
        self._files = WorkingFiles(self._budget())
        self._drop = drop
        self._deadlines = deadlines
        self._over_budget = Wakeup()

    @property
    def bytes(self) -> int:
        return self._files.bytes

    def count_resumed(self, have_pieces: Sequence[bool], layout: TorrentLayout) -> None:
        """Count the pieces an earlier mount left (disk mode)."""
        for piece, had in enumerate(have_pieces):
            if had:
                self.kept(piece, layout.piece_size(piece))

    def kept(self, piece: int, size: int) -> None:
        self._files.add(piece, size)
        self._files.budget_bytes = self._budget()
        if self._files.over_budget(self._deadlines):
            self._over_budget.set()

    def dropped(self, pieces: list[int]) -> None:
        """Pieces dropped some other way (a torrent leaving the session)."""
        self._files.dropped(pieces)

    async def run(self) -> None:
        """Until cancelled: forget whenever the files pass their budget.

        A forget is refused while nothing is wanted, which is most of the time
        when a player reads in real time and its read-ahead window is full:
        the pieces arrive one by one as the window moves, each completing it.
        A refused forget is tried again as soon as a piece is asked for (two
        players at 1 MB/s in a 64 MiB budget kept 137 MiB before).
        """
        while True:
            await self._over_budget.wait()
            while self._files.over_budget(self._deadlines):
                victims = self._files.victims(busy=self._deadlines)
                if not victims:
                    break
                self._deadlines.asked.clear()
                if await self._drop(victims):
                    break
                await self._deadlines.asked.wait()
