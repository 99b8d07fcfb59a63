"""Running other BitTorrent clients as seeders: the base class, ports and the namespace.

aria2, rtorrent, Transmission and WebTorrent each seed one torrent from one
loopback address, capped at an upload rate by their own setting, with DHT,
peer exchange and local discovery off. WebTorrent cannot be kept off the
DHT, so it runs in a `LoopbackNamespace` (a network namespace with only
`lo`), and so must the client that reads from it. The clients themselves
are in `foreign_clients`. Nothing here talks beyond 127.0.0.0/8.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from torrentfs.core.closing import Closing

START_WAIT_S = 60.0
STOP_WAIT_S = 15.0
# aria2 bans the address of a peer that hangs up on it, so readiness probes
# come from an address no client uses.
PROBE_ADDRESS = "127.0.0.254"
POLL_S = 0.05
# Where `make deps` installs webtorrent-cli.
WEBTORRENT = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "torrentfs-tools"
    / "node_modules"
    / ".bin"
    / "webtorrent"
)


def free_port(address: str) -> int:
    """A TCP port nothing listens on at `address` right now."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def listening(address: str, port: int, netns: str | None = None) -> bool:
    if netns is not None:
        probe = subprocess.run(
            ["ip", "netns", "exec", netns, "ss", "-Hltn", f"sport = :{port}"],
            capture_output=True,
            check=False,
        )
        return bool(probe.stdout.strip())
    with socket.socket() as sock:
        sock.bind((PROBE_ADDRESS, 0))
        return sock.connect_ex((address, port)) == 0


class LoopbackNamespace(Closing):
    """A network namespace with only `lo` up; `prefix` runs a command in it.

    Only the network is private: a FUSE mount made inside is seen outside.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)

    @property
    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.name}"]

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


class ForeignSeeder(Closing):
    """A seeding process of another client; `endpoint` is where peers reach it."""

    name = "seeder"

    def __init__(
        self,
        command: Sequence[str],
        address: str,
        port: int,
        log_path: Path,
        netns: LoopbackNamespace | None = None,
    ) -> None:
        self.endpoint = (address, port)
        self.log_path = log_path
        prefix = netns.prefix if netns is not None else []
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [*prefix, *command],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_WAIT_S
        while not listening(address, port, netns.name if netns else None):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    f"{self.name} did not start seeding on {address}:{port}; see {log_path}"
                )
            time.sleep(POLL_S)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
