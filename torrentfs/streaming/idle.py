"""The pause signal: a stretch with no reads means nobody is watching.

`IdleWatch` follows the reads of a mount and moves between three
activities: streaming; idle (no reads for `timeout_s`: stop asking for data
but keep the peers, so resuming costs no reconnect); and disconnected (no
reads for `disconnect_s`: no connections at all). The first read after
either wakes it at once, before that read asks for its pieces. Only reads
count: players keep files open while paused, and `ls` or `stat` is not
watching. A read that is still waiting for its pieces is activity too.

What each transition does is the listener's business; this module only
decides when, and logs why.
"""

import enum
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import trio

from torrentfs.core.config import IdleSettings
from torrentfs.wakeup import Wakeup

log = logging.getLogger(__name__)


class Activity(enum.StrEnum):
    STREAMING = "streaming"
    IDLE = "idle"
    DISCONNECTED = "disconnected"


class IdleListener(Protocol):
    def went_idle(self) -> None:
        """Stop asking for data; keep the peers."""

    def went_disconnected(self) -> None:
        """Drop every connection."""

    def woke(self, was: Activity) -> None:
        """A read came after `was`: fetch again, at once."""


class IdleWatch:
    """When reads stopped, and what that means; `run()` makes the transitions."""

    def __init__(self, settings: IdleSettings, listener: IdleListener) -> None:
        self._settings = settings
        self._listener = listener
        self.activity = Activity.STREAMING
        # Whether anything was ever read (streaming before that is only the start).
        self.has_read = False
        self._reads_in_progress = 0
        # Trio time of the last read's start or end (from `run()` on).
        self._last_read = 0.0
        # Set when a read ends: `run()` waits for it when only a read can
        # start the next quiet stretch.
        self._read_ended = Wakeup()
        # Set when a read wakes the watch: `run()` may be sleeping until a
        # disconnect that is no longer due, and must plan the next idle.
        self._woken = Wakeup()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Wrap one read: wakes the watch first, and holds off idling until it ends."""
        self._reads_in_progress += 1
        self.has_read = True
        now = trio.current_time()
        if self.activity is not Activity.STREAMING:
            was, quiet_s = self.activity, now - self._last_read
            self.activity = Activity.STREAMING
            log.info("resumed: a read after %.1f s without any (%s)", quiet_s, was)
            self._woken.set()
            self._listener.woke(was)
        self._last_read = now
        try:
            yield
        finally:
            self._reads_in_progress -= 1
            self._last_read = trio.current_time()
            self._read_ended.set()

    def disconnect_now(self) -> bool:
        """Go idle and disconnected at once, unless a read is in progress (False then)."""
        if self._reads_in_progress:
            return False
        if self.activity is Activity.STREAMING:
            self.activity = Activity.IDLE
            self._listener.went_idle()
        if self.activity is Activity.IDLE:
            self.activity = Activity.DISCONNECTED
            log.info("disconnected to make room for another torrent")
            self._listener.went_disconnected()
        self._woken.set()
        return True

    async def run(self) -> None:
        """Make the idle and disconnect transitions when their time comes; runs until cancelled.

        Sleeps until the next transition could be due and then looks at the
        last read, so streaming reads cost no wake-up each; it waits for a
        read to end only while no transition can come without one.
        """
        if not self._settings.timeout_s:
            return
        self._last_read = trio.current_time()
        while True:
            due_at = self._next_transition_at()
            if due_at == math.inf:
                self._read_ended.clear()
                await self._read_ended.wait()
            elif trio.current_time() < due_at:
                self._woken.clear()
                with trio.move_on_at(due_at):
                    await self._woken.wait()
            else:
                self._advance()

    def _next_transition_at(self) -> float:
        if self._reads_in_progress:
            return math.inf
        if self.activity is Activity.STREAMING:
            return self._last_read + self._settings.timeout_s
        if self.activity is Activity.IDLE and self._settings.disconnect_s:
            return self._last_read + max(self._settings.disconnect_s, self._settings.timeout_s)
        return math.inf

    def _advance(self) -> None:
        quiet_s = trio.current_time() - self._last_read
        if self.activity is Activity.STREAMING:
            self.activity = Activity.IDLE
            log.info("idle: no reads for %.1f s; downloading stopped, peers kept", quiet_s)
            self._listener.went_idle()
        elif self.activity is Activity.IDLE:
            self.activity = Activity.DISCONNECTED
            log.info("disconnected: no reads for %.1f s; torrent paused", quiet_s)
            self._listener.went_disconnected()
