"""The states a torrent moves through, and the rules between them. Pure: no libtorrent calls."""

import enum
import logging
from dataclasses import dataclass

from torrentfs.engine.settings import BACKGROUND_PRIORITY

log = logging.getLogger(__name__)


class TorrentState(enum.Enum):
    CREATED = "created"  # not added to libtorrent yet
    AWAITING_METADATA = "awaiting metadata"
    ACTIVE = "active"  # fetching what is read (and, with --download-all, the rest)
    IDLE = "idle"  # nobody reads: fetching nothing new unless --download-all-while-idle
    DISCONNECTED = "disconnected"  # paused: no connections at all
    REJOINING = "rejoining"  # out of the session, to forget pieces or lift bans
    DORMANT = "dormant"  # out of the session until read (a library's torrent, disconnected)
    CLOSED = "closed"


IN_SESSION = frozenset(
    {
        TorrentState.AWAITING_METADATA,
        TorrentState.ACTIVE,
        TorrentState.IDLE,
        TorrentState.DISCONNECTED,
    }
)


@dataclass(frozen=True)
class Background:
    """--download-all: fetch the pieces nobody reads; `while_idle`: even with no reads."""

    download_all: bool = False
    while_idle: bool = False


class Lifecycle:
    """Where one torrent is in its life; every move goes through `enter`, which logs it."""

    def __init__(self, name: str, background: Background) -> None:
        self._name = name
        self._background = background
        self.state = TorrentState.CREATED
        # Where a rejoin returns to; idle and wake-up may move it meanwhile.
        self._after_rejoin = TorrentState.ACTIVE

    @property
    def in_session(self) -> bool:
        return self.state in IN_SESSION

    @property
    def settled(self) -> TorrentState:
        """The state, or while rejoining the one it will be back in."""
        return self._after_rejoin if self.state is TorrentState.REJOINING else self.state

    def enter(self, state: TorrentState) -> None:
        if state is not self.state:
            log.debug("torrent %s: %s -> %s", self._name, self.state.value, state.value)
            self.state = state

    def settle(self, state: TorrentState) -> bool:
        """Go to `state` (ACTIVE, IDLE, DISCONNECTED) now, or once back from a rejoin.

        True if the torrent is in the session and now in `state`; False if it
        will be later, or never (before the metadata, or closed).
        """
        if self.state is TorrentState.REJOINING:
            self._after_rejoin = state
            return False
        if self.state not in IN_SESSION or self.state is TorrentState.AWAITING_METADATA:
            return False
        self.enter(state)
        return True

    def is_closed(self) -> bool:
        return self.state is TorrentState.CLOSED

    def leave_to_rejoin(self) -> None:
        self._after_rejoin = self.state
        self.enter(TorrentState.REJOINING)

    def background_priority(self, state: TorrentState | None = None) -> int:
        """The piece priority of what nobody reads, in `state` (default: settled)."""
        state = state or self.settled
        fetching = state is TorrentState.ACTIVE or (
            state in (TorrentState.IDLE, TorrentState.DISCONNECTED) and self._background.while_idle
        )
        return BACKGROUND_PRIORITY if self._background.download_all and fetching else 0
