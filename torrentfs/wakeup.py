"""`Wakeup`: how synchronous code (a callback, an alert) wakes a task that waits for it."""

import trio


class Wakeup:
    """A flag one task waits on and anyone may raise; waiting lowers it again.

    Raised while nobody waits, the next wait returns at once: a wake-up is
    never lost, and several before a wait count as one. The trio event exists
    only while a task waits: a library holds several of these per torrent, and
    ten thousand torrents that nobody reads should cost little.
    """

    def __init__(self) -> None:
        self._raised = False
        self._event: trio.Event | None = None

    def set(self) -> None:
        self._raised = True
        if self._event is not None:
            self._event.set()

    def clear(self) -> None:
        """Forget a wake-up raised before now (before asking for what it will announce)."""
        self._raised = False

    async def wait(self) -> None:
        if not self._raised:
            self._event = trio.Event()
            try:
                await self._event.wait()
            finally:
                self._event = None
        self._raised = False

    async def wait_at_most(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s`; False if nothing woke it."""
        with trio.move_on_after(timeout_s):
            await self.wait()
            return True
        return False
