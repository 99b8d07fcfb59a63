from torrentfs.core.budget import WorkingFiles


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
    for piece in range(3):
        files.add(piece, 200)
    assert not files.over_budget()
    # A piece due counts twice (it lands, and one asked meanwhile may too): one fits, two
    # do not, and a piece already here costs nothing.
    assert not files.over_budget(due=[4])
    assert files.over_budget(due=[4, 5])
    assert not files.over_budget(due=[0, 1, 4])
