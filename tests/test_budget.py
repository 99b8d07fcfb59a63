from torrentfs.core.budget import WorkingFiles
from torrentfs.core.config import (
    Settings,
    StorageMode,
    StorageSettings,
    StreamSettings,
    store_bytes,
    working_files_budget,
)
from torrentfs.core.units import parse_size


def test_counts_each_piece_once():
    files = WorkingFiles(budget_bytes=1000)
    files.add(1, 400)
    files.add(1, 400)
    assert files.bytes == 400 and not files.over_budget()


def test_victims_are_the_oldest_down_to_half_the_budget():
    files = WorkingFiles(budget_bytes=1000)
    for piece in range(6):
        files.add(piece, 200)
    assert files.over_budget()
    assert files.victims(busy=set()) == [0, 1, 2, 3]
    assert files.victims(busy={1}) == [0, 2, 3, 4]
    files.dropped([0, 2, 3, 4])
    assert files.bytes == 400 and not files.over_budget()
    # What is left is what the next forget would take, oldest first.
    files.add(6, 700)
    assert files.victims(busy=set()) == [1, 5, 6]


def test_nothing_to_forget_under_the_low_mark():
    files = WorkingFiles(budget_bytes=1000)
    files.add(7, 300)
    assert files.victims(busy=set()) == []


def test_pieces_due_count_before_they_land():
    files = WorkingFiles(budget_bytes=1000)
    for piece in range(8):
        files.add(piece, 100)
    assert not files.over_budget()
    # A piece due counts twice (it lands, and one asked meanwhile may too): two due pass
    # the budget where counted once they would not; a piece already here costs nothing.
    assert not files.over_budget(due=[8])
    assert files.over_budget(due=[8, 9])
    assert not files.over_budget(due=[0, 1, 8])


def test_pieces_due_never_count_for_more_than_a_quarter_of_the_budget():
    files = WorkingFiles(budget_bytes=1000)
    for piece in range(3):
        files.add(piece, 200)
    # However many are due, the files start forgetting only past three quarters.
    assert not files.over_budget(due=range(10, 60))
    files.add(3, 200)
    assert files.over_budget(due=range(10, 60))


def test_a_sixteenth_of_the_budget_is_kept_free_for_what_lands_during_a_forget():
    files = WorkingFiles(budget_bytes=1600)
    files.add(0, 1500)
    assert not files.over_budget()
    files.add(1, 1)
    # Nothing due, yet what lands while the forget waits on libtorrent must fit.
    assert files.over_budget()


def _settings(cache: str, mode: StorageMode, readahead_max: str = "64M") -> Settings:
    return Settings(
        cache_bytes=parse_size(cache),
        storage=StorageSettings(mode=mode),
        stream=StreamSettings(readahead_max_bytes=parse_size(readahead_max)),
    )


def test_memory_mode_gives_the_store_two_windows_and_the_working_files_the_rest():
    mib = 1 << 20
    for cache, store in (("256M", 128), ("1G", 128), ("4G", 128), ("128M", 64), ("32M", 16)):
        settings = _settings(cache, StorageMode.MEMORY)
        assert store_bytes(settings) == store * mib, cache
        assert store_bytes(settings) + (working_files_budget(settings) or 0) == parse_size(cache)
    assert store_bytes(_settings("4G", StorageMode.MEMORY, "512M")) == 1024 * mib
    # Small windows still leave room for the heads and tails probers read.
    assert store_bytes(_settings("1G", StorageMode.MEMORY, "1M")) == 64 * mib
    # On disk the working files cost no RAM: the store has it all.
    assert store_bytes(_settings("1G", StorageMode.DISK)) == 1024 * mib
