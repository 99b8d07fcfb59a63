import pytest

from torrentfs.core.config import StreamSettings
from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.core.window import (
    MAX_WINDOW_PIECES,
    RateMeter,
    deadline_step_ms,
    end_pieces,
    is_seek,
    plan_window,
    window_piece_count,
)

SETTINGS = StreamSettings(
    readahead_s=30, readahead_min_bytes=1000, readahead_max_bytes=10_000, readahead_step_ms=250
)


def test_rate_meter_waits_for_enough_reading_then_averages():
    meter = RateMeter(span_s=8)
    meter.add(0.0, 1000)
    assert meter.rate(0.2) is None
    meter.add(1.0, 1000)
    assert meter.rate(2.0) == pytest.approx(1000)
    meter.add(20.0, 500)  # older samples fall out of the span
    meter.add(21.0, 500)
    assert meter.rate(21.0) == pytest.approx(1000)


def test_window_is_the_minimum_until_the_rate_is_known():
    assert window_piece_count(SETTINGS, 100, None) == 10
    # Never fewer than 2 pieces, even when the minimum is smaller than a piece.
    assert window_piece_count(SETTINGS, 5000, None) == 2


def test_window_follows_the_rate_within_bounds():
    assert window_piece_count(SETTINGS, 100, 100.0) == 30  # 30 s of 100 B/s
    assert window_piece_count(SETTINGS, 100, 1.0) == 10  # minimum 1000 bytes
    assert window_piece_count(SETTINGS, 100, 1e9) == 100  # maximum 10 000 bytes
    huge = StreamSettings(readahead_min_bytes=1, readahead_max_bytes=1 << 40)
    assert window_piece_count(huge, 16, 1e12) == MAX_WINDOW_PIECES


def test_deadline_steps_follow_the_rate():
    assert deadline_step_ms(SETTINGS, 100, None) == 250
    assert deadline_step_ms(SETTINGS, 1000, 1000.0) == 500  # half the time to reach it
    assert deadline_step_ms(SETTINGS, 1000, 1e9) == 10
    assert deadline_step_ms(SETTINGS, 1000, 0.001) == 2000


AHEAD = 2 << 20


@pytest.mark.parametrize(
    ("offset", "piece_length", "seek"),
    [
        (5000, 1000, False),
        (4950, 1000, False),
        (4000, 1000, False),  # one piece back
        (3999, 1000, True),
        (5000 + AHEAD, 1000, False),
        (5001 + AHEAD, 1000, True),  # a jump forward, even inside a large window
        (5000 + AHEAD + 1, AHEAD, False),  # large pieces: two of them ahead still stream
        (5001 + 2 * AHEAD, AHEAD, True),
    ],
)
def test_is_seek(offset, piece_length, seek):
    assert is_seek(5000, offset, piece_length, ahead_bytes=AHEAD) is seek


def _layout():
    # Three files: [0, 250), [250, 300), [300, 1000); pieces of 100 bytes.
    files = (
        FileEntry(0, ("a",), 0, 250),
        FileEntry(1, ("b",), 250, 50),
        FileEntry(2, ("c",), 300, 700),
    )
    return TorrentLayout("t", 100, 1000, files)


def test_plan_stops_at_the_end_of_the_file():
    layout = _layout()
    plan = plan_window(layout, layout.files[0], 0, 5, 100, continue_past_end=False)
    assert plan.in_file == {1: 100, 2: 200}
    assert plan.beyond_file == {}


def test_plan_continues_into_the_next_files_in_torrent_order():
    layout = _layout()
    plan = plan_window(layout, layout.files[0], 0, 5, 100, continue_past_end=True)
    assert plan.in_file == {1: 100, 2: 200}
    assert plan.beyond_file == {3: 300, 4: 400, 5: 500}
    near_end = plan_window(layout, layout.files[2], 8, 5, 100, continue_past_end=True)
    assert near_end.in_file == {9: 100}
    assert near_end.beyond_file == {}


def test_end_pieces_cover_head_and_tail():
    layout = _layout()
    assert end_pieces(layout, layout.files[2], 150, 120) == {3, 4, 8, 9}
    assert end_pieces(layout, layout.files[2], 1, 0) == {3}
    assert end_pieces(layout, layout.files[1], 1000, 1000) == {2}
