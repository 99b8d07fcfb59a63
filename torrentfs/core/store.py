"""The RAM piece store: verified pieces kept in memory, least recently used first out.

Built on cachetools' LRUCache with each piece's length as its size, so the
budget is in bytes. Pieces inside a live read-ahead window are protected:
they are evicted only when nothing colder is left. It keeps the counters the
status view and the benchmarks report.
"""

from collections.abc import Container

from cachetools import LRUCache

from torrentfs.core.status_schema import StoreStatus


class _ProtectingLRU(LRUCache[int, bytes]):
    """An LRU cache that passes over protected keys while unprotected ones remain."""

    def __init__(self, budget_bytes: int, protected: Container[int]) -> None:
        super().__init__(maxsize=budget_bytes, getsizeof=len)
        self._protected = protected
        self.evictions = 0

    def popitem(self) -> tuple[int, bytes]:
        for _ in range(len(self)):
            piece, data = super().popitem()
            if piece not in self._protected:
                break
            # Back in as most recently used; it fits, as it was just taken out.
            super().__setitem__(piece, data)
        else:
            piece, data = super().popitem()
        self.evictions += 1
        return piece, data


class PieceStore:
    """Verified piece bytes by piece index, within a byte budget."""

    def __init__(self, budget_bytes: int, protected: Container[int] = frozenset()) -> None:
        """A store of `budget_bytes`; pieces in `protected` go only when nothing else can."""
        self._cache = _ProtectingLRU(budget_bytes, protected)
        self._hits = 0
        self._misses = 0

    def get(self, piece: int) -> bytes | None:
        """The piece's bytes (marking it recently used), or None."""
        data = self._cache.get(piece)
        if data is None:
            self._misses += 1
        else:
            self._hits += 1
        return data

    def peek(self, piece: int) -> bytes | None:
        """The piece's bytes if present, without counting a hit or a miss."""
        return self._cache.get(piece)

    def put(self, piece: int, data: bytes) -> None:
        """Keep `data`, evicting the least recently used pieces to stay within budget.

        A piece larger than the whole budget is not kept.
        """
        if len(data) > self._cache.maxsize:
            return
        self._cache[piece] = data

    def __contains__(self, piece: int) -> bool:
        return piece in self._cache

    def pieces(self) -> list[int]:
        """The pieces held now, in no particular order."""
        return list(self._cache.keys())

    def stats(self) -> StoreStatus:
        return StoreStatus(
            pieces=len(self._cache),
            bytes=int(self._cache.currsize),
            budget_bytes=int(self._cache.maxsize),
            hits=self._hits,
            misses=self._misses,
            evictions=self._cache.evictions,
        )
