"""The memory budget of libtorrent's working files: which verified pieces to forget.

Pure bookkeeping. In memory mode libtorrent keeps every verified piece in its
working files on tmpfs, which is RAM too; this keeps count of them in the
order they arrived and picks the oldest to forget when they outgrow their
share of `--cache-size`. Forgetting itself (libtorrent dropping the pieces,
holes punched in the files) is the engine's job.
"""

from collections import OrderedDict
from collections.abc import Container, Iterable

# Forgetting costs a reconnect, so it frees a good share at once: down to
# this fraction of the budget.
FORGET_DOWN_TO = 0.5
# The pieces due now, and as many asked as they land during a forget (measured with a
# 1 GiB budget and unthrottled seeders: counting only those due, the files passed it by
# a piece in 1 run of 3).
COMING_FACTOR = 2
# ...but never more than this share of the budget: with fifty HTTP readers the pieces due
# outweighed the whole budget, and every piece that landed started another forget.
COMING_AT_MOST = 0.25
# ...and never less than this share: a forget takes a few hundred milliseconds with the
# CPU busy, and a reader faster than its deadlines lands more meanwhile than it has
# due (measured, 1 GiB budget, both cores busy: 20 MiB landed after the forget began
# with one piece due; the files passed the budget by a piece in 3 runs of 5).
COMING_AT_LEAST = 1 / 16


class WorkingFiles:
    """Verified pieces in libtorrent's working files, oldest first."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._pieces: OrderedDict[int, int] = OrderedDict()
        self.bytes = 0
        self._largest_piece = 0

    def add(self, piece: int, size: int) -> None:
        if piece not in self._pieces:
            self._pieces[piece] = size
            self.bytes += size
            self._largest_piece = max(self._largest_piece, size)

    def over_budget(self, due: Iterable[int] = ()) -> bool:
        """Whether the files could pass their budget before a forget started now is done:
        the pieces `due` (asked of libtorrent) land, and as many again, asked as those
        land while the forget waits on libtorrent; each counted at the largest piece
        size seen, and never less than `COMING_AT_LEAST` of the budget. So forgetting
        starts early enough that the files never pass it."""
        due_bytes = sum(1 for piece in due if piece not in self._pieces) * self._largest_piece
        coming = min(
            max(COMING_FACTOR * due_bytes, COMING_AT_LEAST * self.budget_bytes),
            COMING_AT_MOST * self.budget_bytes,
        )
        return self.bytes + coming > self.budget_bytes

    def victims(self, busy: Container[int]) -> list[int]:
        """The oldest pieces whose forgetting brings the files down to their low mark.

        Pieces in `busy` (being read back from the files) are passed over.
        """
        target = self.budget_bytes * FORGET_DOWN_TO
        chosen, remaining = [], self.bytes
        for piece, size in self._pieces.items():
            if remaining <= target:
                break
            if piece not in busy:
                chosen.append(piece)
                remaining -= size
        return chosen

    def dropped(self, pieces: list[int]) -> None:
        """Libtorrent dropped `pieces`: they no longer count."""
        for piece in pieces:
            self.bytes -= self._pieces.pop(piece, 0)
