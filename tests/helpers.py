"""What the tests share: sample torrents, exact reads, digests, waiting on a mount's status."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings

from torrentfs.core.config import NetworkSettings
from torrentfs.core.source import Peer
from torrentfs.core.status_schema import MountStatus
from torrentfs.status import read_status

SEEDER_ADDRESS = "127.0.0.2"
STATUS_POLL_S = 0.1


@dataclass(frozen=True)
class SampleTorrent:
    """Generated content on disk and its .torrent."""

    root: Path  # the file, or the top folder, named in the torrent
    data: bytes  # the .torrent
    torrent_path: Path
    piece_length: int

    @property
    def parent(self) -> Path:
        return self.root.parent

    def files(self) -> dict[str, bytes]:
        """Relative path inside the mount -> expected bytes."""
        if self.root.is_file():
            return {self.root.name: self.root.read_bytes()}
        return {
            str(path.relative_to(self.root)): path.read_bytes()
            for path in sorted(self.root.rglob("*"))
            if path.is_file()
        }


def loopback_network(*peers: tuple[str, int]) -> NetworkSettings:
    """An in-process session's network: 127.0.0.1 only, no discovery, these peers given."""
    return NetworkSettings(
        listen="127.0.0.1:0",
        dht=False,
        lsd=False,
        upnp=False,
        natpmp=False,
        peers=tuple(Peer(*peer) for peer in peers),
    )


def read_at(path: Path, offset: int, size: int) -> bytes:
    """`size` bytes at `offset`, each read going to the file system (no Python buffering)."""
    with path.open("rb", buffering=0) as handle:
        handle.seek(offset)
        return handle.read(size)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def status_once(
    mountpoint: Path, condition: Callable[[MountStatus], bool], limit_s: float
) -> MountStatus:
    """The mount's status once `condition` holds, or the last one seen after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while True:
        status = read_status(mountpoint)
        if condition(status) or time.monotonic() > deadline:
            return status
        time.sleep(STATUS_POLL_S)


def until(condition: Callable[[], bool], limit_s: float, poll_s: float = STATUS_POLL_S) -> bool:
    """Whether `condition` came true within `limit_s`, asked every `poll_s`."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def live_fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings for fuzzing one live mount: a bounded number of examples, no
    per-example deadline (a mount's answers take what they take), one fixture for all."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
