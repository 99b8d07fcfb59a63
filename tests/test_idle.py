"""The idle state machine with trio's MockClock: when reads stop, what happens and when."""

import pytest
import trio
import trio.testing

from torrentfs.arguments import build_parser
from torrentfs.cli import settings_from_args
from torrentfs.core.config import IdleSettings
from torrentfs.core.errors import UserError
from torrentfs.streaming.idle import Activity, IdleWatch


class Recorder:
    """The listener: records each transition with the (fake) time it happened."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def went_idle(self) -> None:
        self.events.append(("idle", trio.current_time()))

    def went_disconnected(self) -> None:
        self.events.append(("disconnected", trio.current_time()))

    def woke(self, was: Activity) -> None:
        self.events.append((f"woke from {was}", trio.current_time()))


def _run(scenario, settings):
    async def main():
        recorder = Recorder()
        watch = IdleWatch(settings, recorder)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            await scenario(watch, recorder)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def _read(watch: IdleWatch, seconds: float = 0.0) -> None:
    with watch.reading():
        await trio.sleep(seconds)


def test_no_reads_goes_idle_then_disconnects_and_a_read_wakes_it_at_once():
    async def scenario(watch, recorder):
        await trio.sleep(5)
        await _read(watch)
        await trio.sleep(100)
        await _read(watch)
        assert watch.activity is Activity.STREAMING
        assert recorder.events == [
            ("idle", 25),
            ("disconnected", 65),
            ("woke from disconnected", 105),
        ]

    _run(scenario, IdleSettings(timeout_s=20, disconnect_s=60))


def test_reads_keep_it_streaming_and_the_quiet_counts_from_the_last_one():
    async def scenario(watch, recorder):
        for _ in range(10):
            await trio.sleep(15)
            await _read(watch)
        assert recorder.events == []
        await trio.sleep(25)
        assert recorder.events == [("idle", 170)]
        await _read(watch)
        assert recorder.events[-1] == ("woke from idle", 175)

    _run(scenario, IdleSettings(timeout_s=20, disconnect_s=60))


def test_the_pause_comes_again_after_every_wake_before_the_disconnect():
    """A read while idle must not leave the watch asleep until the old disconnect time."""

    async def scenario(watch, recorder):
        for _ in range(3):
            await _read(watch)
            await trio.sleep(30)
        assert recorder.events == [
            ("idle", 20),
            ("woke from idle", 30),
            ("idle", 50),
            ("woke from idle", 60),
            ("idle", 80),
        ]

    _run(scenario, IdleSettings(timeout_s=20, disconnect_s=300))


def test_a_read_waiting_for_its_pieces_is_not_idle():
    async def scenario(watch, recorder):
        await _read(watch, seconds=50)
        assert recorder.events == []
        await trio.sleep(21)
        assert recorder.events == [("idle", 70)]

    _run(scenario, IdleSettings(timeout_s=20, disconnect_s=60))


def test_zero_turns_off_the_pause_or_only_the_disconnect():
    async def never(watch, recorder):
        await trio.sleep(1000)
        assert recorder.events == []
        assert watch.activity is Activity.STREAMING

    _run(never, IdleSettings(timeout_s=0, disconnect_s=60))

    async def idle_only(watch, recorder):
        await trio.sleep(1000)
        assert recorder.events == [("idle", 20)]

    _run(idle_only, IdleSettings(timeout_s=20, disconnect_s=0))


def test_a_disconnect_shorter_than_the_timeout_waits_for_the_timeout():
    async def scenario(watch, recorder):
        await trio.sleep(100)
        assert recorder.events == [("idle", 20), ("disconnected", 20)]

    _run(scenario, IdleSettings(timeout_s=20, disconnect_s=5))


def _settings(*args):
    return settings_from_args(build_parser().parse_args(["mount", "magnet:?xt=x", "/m", *args]))


def test_idle_timeout_flag_wins_over_the_environment(monkeypatch):
    monkeypatch.delenv("TORRENT_PAUSE_ON_VIDEO_PAUSE", raising=False)
    assert _settings().idle.timeout_s == 20
    monkeypatch.setenv("TORRENT_PAUSE_ON_VIDEO_PAUSE", "false")
    assert _settings().idle.timeout_s == 0
    assert _settings("--idle-timeout", "45s").idle.timeout_s == 45
    monkeypatch.setenv("TORRENT_PAUSE_ON_VIDEO_PAUSE", "True")
    assert _settings().idle.timeout_s == 20
    monkeypatch.setenv("TORRENT_PAUSE_ON_VIDEO_PAUSE", "sometimes")
    with pytest.raises(UserError, match="TORRENT_PAUSE_ON_VIDEO_PAUSE='sometimes' is not a switch"):
        _settings()
