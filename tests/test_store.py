from torrentfs.core.store import PieceStore, StoreBudget


def test_budget_is_in_bytes_and_lru_goes_first():
    store = PieceStore(budget_bytes=300)
    for piece in range(3):
        store.put(piece, bytes(100))
    assert store.get(0) is not None  # 0 is now the most recently used
    store.put(3, bytes(100))
    assert 1 not in store
    assert all(p in store for p in (0, 2, 3))
    stats = store.stats()
    assert (stats["pieces"], stats["bytes"], stats["budget_bytes"], stats["evictions"]) == (
        3,
        300,
        300,
        1,
    )


def test_hits_and_misses_are_counted():
    store = PieceStore(budget_bytes=1000)
    store.put(1, b"x" * 10)
    assert store.get(1) == b"x" * 10
    assert store.get(2) is None
    stats = store.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)


def test_a_large_piece_evicts_several_small_ones():
    store = PieceStore(budget_bytes=100)
    for piece in range(4):
        store.put(piece, bytes(25))
    store.put(9, bytes(60))
    assert store.stats()["bytes"] <= 100
    assert 9 in store and store.stats()["evictions"] == 3


def test_a_piece_bigger_than_the_budget_is_not_kept():
    store = PieceStore(budget_bytes=10)
    store.put(0, bytes(5))
    store.put(1, bytes(11))
    assert 1 not in store and 0 in store


def test_protected_pieces_go_last():
    protected = {0}
    store = PieceStore(budget_bytes=300, protected=protected)
    for piece in range(3):
        store.put(piece, bytes(100))
    store.put(3, bytes(100))
    assert 0 in store and 1 not in store
    protected.update({0, 2, 3})
    store.put(4, bytes(100))  # everything else is protected: the oldest of them goes
    assert 4 in store and store.stats()["bytes"] == 300


def test_stores_sharing_a_budget_give_way_to_each_other_coldest_first():
    shared = StoreBudget(300)
    first, second = PieceStore(shared=shared), PieceStore(shared=shared, protected={7})
    first.put(1, b"a" * 100)
    second.put(7, b"b" * 100)
    first.put(2, b"c" * 100)
    second.put(8, b"d" * 100)  # over budget: the coldest unprotected piece (first's 1) goes
    assert 1 not in first and {2} == set(first.pieces())
    assert set(second.pieces()) == {7, 8}
    assert first.stats()["bytes"] == 100 and second.stats()["bytes"] == 200
    second.close()
    assert second.pieces() == [] and first.get(2) == b"c" * 100
