"""`Wakeup`: how synchronous code (a callback, an alert) wakes a task that waits for it."""

import trio


class Wakeup:
    """A flag one task waits on and anyone may raise; waiting lowers it again.

    Raised while nobody waits, the next wait returns at once: a wake-up is
    never lost, and several before a wait count as one.
    """

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        """Forget a wake-up raised before now (before asking for what it will announce)."""
        if self._event.is_set():
            self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()

    async def wait_at_most(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s`; False if nothing woke it."""
        with trio.move_on_after(timeout_s):
            await self.wait()
            return True
        return False
