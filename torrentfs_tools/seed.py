"""`python -m torrentfs_tools.seed TORRENT CONTENT_PARENT ADDRESS PORT`: a libtorrent
session with its default settings (as qBittorrent's) seeding one torrent until it is
stopped, as a process of its own: a test runs it inside a network namespace."""

import signal
import sys
import threading
from pathlib import Path

from torrentfs_tools.loopback import Seeder


def main(argv: list[str]) -> int:
    torrent, content_parent, address, port = argv
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with Seeder(Path(torrent).read_bytes(), Path(content_parent), address, port=int(port),
                tick_interval_ms=None):  # fmt: skip
        stopped.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
