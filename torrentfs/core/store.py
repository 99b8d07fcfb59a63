"""The RAM piece store: verified pieces kept in memory, least recently used first out.

Built on cachetools' LRUCache with each piece's length as its size, so the
budget is in bytes. Pieces inside a live read-ahead window are protected:
they are evicted only when nothing colder is left. It keeps the counters the
status view and the benchmarks report.
"""

from collections.abc import Container, Hashable

from cachetools import Cache, LRUCache

from torrentfs.core.status_schema import StoreStatus

Key = tuple[Hashable, int]


class _ProtectingLRU(LRUCache[Key, bytes]):
    """An LRU cache that passes over protected keys while unprotected ones remain."""

    def __init__(self, budget_bytes: int, protected: Container[Key]) -> None:
        super().__init__(maxsize=budget_bytes, getsizeof=len)
        self._protected = protected
        self.evictions = 0

    def popitem(self) -> tuple[Key, bytes]:
        for _ in range(len(self)):
            key, data = super().popitem()
            if key not in self._protected:
                break
            # Back in as most recently used; it fits, as it was just taken out.
            super().__setitem__(key, data)
        else:
            key, data = super().popitem()
        self.evictions += 1
        return key, data


class StoreBudget:
    """One byte budget and one least-recently-used order, shared by the stores of many
    torrents (a library's): the coldest piece of any of them goes first."""

    def __init__(self, budget_bytes: int) -> None:
        self._protected: dict[Hashable, Container[int]] = {}
        self.cache = _ProtectingLRU(budget_bytes, self)

    def __contains__(self, key: object) -> bool:
        """Whether a (store, piece) key is protected by its store."""
        if not isinstance(key, tuple):
            return False
        owner, piece = key
        return piece in self._protected.get(owner, ())

    def protect(self, owner: Hashable, protected: Container[int]) -> None:
        self._protected[owner] = protected

    def release(self, owner: Hashable) -> None:
        """Forget a store: its pieces leave the budget."""
        self._protected.pop(owner, None)
        for key in [key for key in self.cache if key[0] == owner]:
            del self.cache[key]


class PieceStore:
    """Verified piece bytes by piece index, within a byte budget (its own, or shared)."""

    def __init__(
        self,
        budget_bytes: int = 0,
        protected: Container[int] = frozenset(),
        shared: StoreBudget | None = None,
    ) -> None:
        """A store of `budget_bytes`, or one among others in `shared`; pieces in
        `protected` go only when nothing else can."""
        self._budget = shared if shared is not None else StoreBudget(budget_bytes)
        self._cache = self._budget.cache
        self._budget.protect(self, protected)
        self._hits = 0
        self._misses = 0

    def get(self, piece: int) -> bytes | None:
        """The piece's bytes (marking it recently used), or None."""
        data = self._cache.get((self, piece))
        if data is None:
            self._misses += 1
        else:
            self._hits += 1
        return data

    def peek(self, piece: int) -> bytes | None:
        """The piece's bytes if present, without counting a hit or a miss."""
        return self._cache.get((self, piece))

    def put(self, piece: int, data: bytes) -> None:
        """Keep `data`, evicting the least recently used pieces to stay within budget.

        A piece larger than the whole budget is not kept.
        """
        if len(data) > self._cache.maxsize:
            return
        self._cache[(self, piece)] = data

    def __contains__(self, piece: int) -> bool:
        return (self, piece) in self._cache

    def pieces(self) -> list[int]:
        """The pieces held now, in no particular order."""
        return [piece for owner, piece in self._cache if owner is self]

    def close(self) -> None:
        """Give this store's bytes back to a shared budget."""
        self._budget.release(self)

    def stats(self) -> StoreStatus:
        pieces = self.pieces()
        return StoreStatus(
            pieces=len(pieces),
            # Read past the LRU order: looking is not using.
            bytes=sum(len(Cache.__getitem__(self._cache, (self, piece))) for piece in pieces),
            budget_bytes=int(self._cache.maxsize),
            hits=self._hits,
            misses=self._misses,
            evictions=self._cache.evictions,
        )
