"""One libtorrent session: its settings, its alert pump, and its torrents by info-hash."""

from __future__ import annotations

import logging
import os

import libtorrent as lt
import trio

from torrentfs.core.closing import Closing
from torrentfs.core.config import NetworkSettings
from torrentfs.core.errors import DuplicateTorrent
from torrentfs.core.source import Source, resolve_peer
from torrentfs.engine import add_params, settings
from torrentfs.engine.forgetting import FilesBudget
from torrentfs.engine.lifecycle import Background
from torrentfs.engine.membership import Runnable
from torrentfs.engine.storage import Storage
from torrentfs.engine.torrent import Torrent

log = logging.getLogger(__name__)


class Session(Closing):
    """A libtorrent session holding any number of torrents, from construction until `close()`.

    `run()` pumps alerts to the torrents they are about, and runs the
    background work of each torrent once it is started, until cancelled. A
    torrent never started (a library's, never read) costs no task at all.
    """

    def __init__(self, network: NetworkSettings) -> None:
        self._network = network
        self._torrents: dict[str, Torrent] = {}
        self._nursery: trio.Nursery | None = None
        # Started before `run()`: their loops start with it.
        self._waiting_to_run: list[Runnable] = []
        self._alert_pipe = os.pipe()
        for fd in self._alert_pipe:
            os.set_blocking(fd, False)
        self._session = lt.session(settings.session_params(network))
        self._session.set_alert_fd(self._alert_pipe[1])

    def add_torrent(
        self,
        source: Source,
        storage: Storage,
        background: Background | None = None,
        files_budget_bytes: FilesBudget | None = None,
        leaves_when_disconnected: bool = False,
    ) -> Torrent:
        """A torrent for `source`, its files in `storage`; added to libtorrent by its `start()`.

        Raises UserError for a bad source, or one already in the session.
        """
        params = add_params.from_source(source, self._network)
        info_hash = add_params.hex_info_hash(params.info_hashes)
        if info_hash in self._torrents:
            raise DuplicateTorrent(f"{source.label} is already in the session", info_hash)
        given_peers = [resolve_peer(peer) for peer in (*source.peers, *self._network.peers)]
        params.save_path = str(storage.prepare(info_hash))
        params = add_params.resumed(params, storage.load_resume_data())
        torrent = Torrent(
            self._session,
            params,
            storage,
            given_peers,
            background,
            files_budget_bytes,
            leaves_when_disconnected,
            self._run_torrent,
        )
        self._torrents[info_hash] = torrent
        return torrent

    def _run_torrent(self, torrent: Runnable) -> None:
        """Run a started torrent's background work in the session's nursery."""
        if self._nursery is None:
            self._waiting_to_run.append(torrent)
        else:
            self._nursery.start_soon(torrent.run)

    def remove_torrent(self, torrent: Torrent) -> None:
        """Take `torrent` out of the session for good."""
        torrent.close()
        self._torrents.pop(torrent.info_hash, None)

    def torrents(self) -> list[Torrent]:
        return list(self._torrents.values())

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for torrent in self._waiting_to_run:
                nursery.start_soon(torrent.run)
            self._waiting_to_run.clear()
            await self._pump_alerts()

    async def _pump_alerts(self) -> None:
        read_fd = self._alert_pipe[0]
        while True:
            _drain(read_fd)
            for alert in self._session.pop_alerts():
                self._dispatch(alert)
            await trio.lowlevel.wait_readable(read_fd)

    def _dispatch(self, alert: lt.alert) -> None:
        torrent = self._torrent_of(alert)
        if torrent is not None:
            torrent.handle_alert(alert)
        elif alert.category() & lt.alert_category.error:
            log.warning("libtorrent: %s", alert.message())

    def _torrent_of(self, alert: lt.alert) -> Torrent | None:
        if isinstance(alert, lt.torrent_removed_alert):
            # Its handle is no longer valid.
            hashes = alert.info_hashes
        elif isinstance(alert, lt.torrent_alert) and alert.handle.is_valid():
            hashes = alert.handle.info_hashes()
        else:
            return None
        return self._torrents.get(add_params.hex_info_hash(hashes))

    def close(self) -> None:
        """Close every torrent and stop the session; it must not outlive its alert pipe."""
        for torrent in self._torrents.values():
            torrent.close()
        del self._session
        for fd in self._alert_pipe:
            os.close(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
