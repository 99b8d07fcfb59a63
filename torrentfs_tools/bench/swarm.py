"""The benchmark swarm: rate-limited seeders on their own loopback addresses and a tracker."""

from contextlib import ExitStack
from pathlib import Path

from torrentfs.core.closing import Closing
from torrentfs_tools.bench.media import BenchContent
from torrentfs_tools.bench.tracker import LoopbackTracker
from torrentfs_tools.loopback import SEEDER_TICK_INTERVAL_MS, Seeder, with_trackers

SEEDER_ADDRESSES = ("127.0.0.2", "127.0.0.3")
# 2 MB/s each: 4 MB/s (32 Mbit/s) in all, a realistic swarm.
SEEDER_RATE_BYTES_S = 2_000_000
# The pause runs: 1 MB/s in all, about the movie's bitrate, so the read-ahead
# window and the rest of the movie are still to come when playback stops and
# a pause has something to hold back (at 4 MB/s every client had it all).
PAUSE_SEEDER_RATE_BYTES_S = 500_000


class Swarm(Closing):
    """Seeders of one content, a tracker naming them, and a .torrent announcing to it."""

    def __init__(
        self,
        content: BenchContent,
        run_dir: Path,
        rate_bytes_s: int,
        tick_interval_ms: int | None = SEEDER_TICK_INTERVAL_MS,
    ) -> None:
        """With `tick_interval_ms` None the seeders keep libtorrent's default settings."""
        self._stack = ExitStack()
        parent = content.root.parent
        self.seeders = [
            self._stack.enter_context(
                Seeder(
                    content.torrent,
                    parent,
                    address,
                    rate_bytes_s,
                    tick_interval_ms=tick_interval_ms,
                )
            )
            for address in SEEDER_ADDRESSES
        ]
        tracker = self._stack.enter_context(
            LoopbackTracker([seeder.endpoint for seeder in self.seeders])
        )
        self.torrent_path = run_dir / f"{content.root.name}.torrent"
        self.torrent_path.write_bytes(with_trackers(content.torrent, [tracker.announce_url]))
        self.rate_bytes_s = rate_bytes_s * len(self.seeders)

    def uploaded_bytes(self) -> int:
        return sum(seeder.uploaded_bytes() for seeder in self.seeders)

    def close(self) -> None:
        self._stack.close()
