"""The two things the engine asks of libtorrent and then waits for an alert:
a torrent's resume data, and its removal from the session.
"""

from __future__ import annotations

import logging

import libtorrent as lt
import trio

from torrentfs.engine.settings import ALERT_TIMEOUT_S
from torrentfs.engine.status import CHECKING_STATES
from torrentfs.engine.storage import Storage
from torrentfs.wakeup import Wakeup

log = logging.getLogger(__name__)


class ResumeData:
    """One torrent's resume data, asked for and written (disk mode) one round trip at a time.

    `lock` is held across a whole rejoin too: a periodic save must not take
    the alert a forget waits for, nor ask for a torrent out of the session.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.lock = trio.Lock()
        self._saved = Wakeup()
        self._checked = Wakeup()
        self._data: bytes | None = None

    async def fetch(self, handle: lt.torrent_handle) -> lt.add_torrent_params | None:
        """libtorrent's resume data of `handle`, or None if it did not come in time.

        Hold `lock` around this.
        """
        if not await self._checked_at_most(handle, ALERT_TIMEOUT_S):
            log.debug("no resume data asked for: the torrent is still checking its files")
            return None
        self._saved.clear()
        self._data = None
        handle.save_resume_data(lt.torrent_handle.save_info_dict)
        await self._saved.wait_at_most(ALERT_TIMEOUT_S)
        if self._data is None:
            return None
        await self._write(self._data)
        return lt.read_resume_data(self._data)

    async def record(self, params: lt.add_torrent_params) -> None:
        """Disk mode: write `params` as the resume data a remount starts from."""
        await self._write(lt.write_resume_data_buf(params))

    async def _write(self, data: bytes) -> None:
        # On a worker thread: written whole (fsync), it must not hold up FUSE's answers.
        if self._storage.keeps_resume_data:
            await trio.to_thread.run_sync(self._storage.save_resume_data, data)

    def checked(self) -> None:
        """libtorrent has checked the torrent's resume data or files (torrent_checked_alert)."""
        self._checked.set()

    async def _checked_at_most(self, handle: lt.torrent_handle, timeout_s: float) -> bool:
        # Resume data asked for before the check ends claims no piece at all (measured:
        # an empty piece list), and the torrent added back from it checks every file:
        # a 1 TiB torrent read a few pieces then sat checking for minutes, no peer dialed.
        deadline = trio.current_time() + timeout_s
        while handle.status().state in CHECKING_STATES:
            if not await self._checked.wait_at_most(deadline - trio.current_time()):
                return False
        return True

    def arrived(self, alert: lt.save_resume_data_alert) -> None:
        # Serialised at once: the alert's params die with the next pop_alerts.
        self._data = lt.write_resume_data_buf(alert.params)
        self._saved.set()

    def failed(self, alert: lt.save_resume_data_failed_alert) -> None:
        log.warning("could not save resume data: %s", alert.message())
        self._saved.set()


class Removal:
    """Taking a torrent out of the session and waiting until libtorrent says it is out."""

    def __init__(self) -> None:
        self._removed = Wakeup()

    async def remove(self, session: lt.session, handle: lt.torrent_handle) -> None:
        self._removed.clear()
        session.remove_torrent(handle)
        if not await self._removed.wait_at_most(ALERT_TIMEOUT_S):
            log.warning(
                "libtorrent did not confirm within %.0f s that the torrent left the session; "
                "going on as if it had",
                ALERT_TIMEOUT_S,
            )

    def confirmed(self) -> None:
        self._removed.set()
