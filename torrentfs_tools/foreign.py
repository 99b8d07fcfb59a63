"""Seeders of other BitTorrent implementations, for the tests and the benchmark.

aria2, rtorrent, Transmission and WebTorrent each seed one torrent from one
loopback address, capped at an upload rate by their own setting, with DHT,
peer exchange and local discovery off. WebTorrent cannot be kept off the
DHT, so it runs in a `LoopbackNamespace` (a network namespace with only
`lo`), and so must the client that reads from it. Like `loopback`, this is
tooling around the product; nothing here talks beyond 127.0.0.0/8.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from torrentfs.core.closing import Closing
from torrentfs_tools.loopback import with_trackers

START_WAIT_S = 60.0
STOP_WAIT_S = 15.0
# aria2 bans the address of a peer that hangs up on it, so readiness probes
# come from an address no client uses.
PROBE_ADDRESS = "127.0.0.254"
_POLL_S = 0.05
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


def _listening(address: str, port: int, netns: str | None = None) -> bool:
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
        while not _listening(address, port, netns.name if netns else None):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    f"{self.name} did not start seeding on {address}:{port}; see {log_path}"
                )
            time.sleep(_POLL_S)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Aria2Seeder(ForeignSeeder):
    """aria2c seeding a v1 .torrent, logging the peer messages it gets to `message_log`.

    aria2 bans an address for some minutes after a peer from it hangs up,
    so each client needs a seeder of its own.
    """

    name = "aria2"

    def __init__(
        self,
        torrent_path: Path,
        content_parent: Path,
        address: str,
        upload_rate_limit: int = 0,
        work_dir: Path | None = None,
    ) -> None:
        work = work_dir or content_parent
        port = free_port(address)
        self.message_log = work / f"aria2-{address}-messages.log"
        command = [
            "aria2c",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--enable-peer-exchange=false",
            "--bt-enable-lpd=false",
            f"--interface={address}",
            f"--listen-port={port}",
            "--seed-ratio=0.0",
            "--bt-seed-unverified=true",
            f"--max-overall-upload-limit={upload_rate_limit}",
            f"--dir={content_parent}",
            "--console-log-level=warn",
            "--summary-interval=0",
            f"--log={self.message_log}",
            "--log-level=info",
            str(torrent_path),
        ]
        super().__init__(command, address, port, work / f"aria2-{address}.log")

    def times_told_not_interested(self) -> int:
        """How often a peer told this seeder "not interested"."""
        return self.message_log.read_text(errors="replace").count(" not interested")


class RtorrentSeeder(ForeignSeeder):
    """rtorrent (headless) seeding a v1 .torrent, after hashing the files.

    rtorrent will not load a torrent without a tracker, so the torrent it
    gets announces to a closed port on its own address (same info-hash).
    """

    name = "rtorrent"

    def __init__(
        self,
        torrent_data: bytes,
        content_parent: Path,
        address: str,
        work_dir: Path,
        upload_rate_limit: int = 0,
    ) -> None:
        port = free_port(address)
        self._work = work_dir / f"rtorrent-{address}"
        session = self._work / "session"
        session.mkdir(parents=True)
        torrent = self._work / "seed.torrent"
        torrent.write_bytes(
            with_trackers(torrent_data, [f"http://{address}:{free_port(address)}/announce"])
        )
        rate_kib = upload_rate_limit // 1024
        (self._work / "rtorrent.rc").write_text(
            "\n".join(
                [
                    f"directory.default.set = {content_parent}",
                    f"session.path.set = {session}",
                    f"network.bind_address.set = {address}",
                    f"network.local_address.set = {address}",
                    f"network.port_range.set = {port}-{port}",
                    "network.port_random.set = no",
                    "dht.mode.set = disable",
                    "protocol.pex.set = no",
                    "trackers.use_udp.set = no",
                    f"throttle.global_up.max_rate.set_kb = {rate_kib}",
                    "system.daemon.set = true",
                    f"load.start_verbose = {torrent}",
                    "",
                ]
            )
        )
        command = ["rtorrent", "-n", "-o", f"import={self._work / 'rtorrent.rc'}"]
        super().__init__(command, address, port, self._work / "rtorrent.log")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._work, ignore_errors=True)


class TransmissionSeeder(ForeignSeeder):
    """transmission-daemon seeding a .torrent added over its RPC (on the same address)."""

    name = "transmission"

    def __init__(
        self,
        torrent_path: Path,
        content_parent: Path,
        address: str,
        work_dir: Path,
        upload_rate_limit: int = 0,
    ) -> None:
        self._work = work_dir / f"transmission-{address}"
        self._work.mkdir(parents=True)
        port, rpc_port = free_port(address), free_port(address)
        settings = {
            "bind-address-ipv4": address,
            "bind-address-ipv6": "::1",
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "utp-enabled": False,
            "port-forwarding-enabled": False,
            "peer-port": port,
            "peer-port-random-on-start": False,
            "rpc-bind-address": address,
            "rpc-port": rpc_port,
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": False,
            "speed-limit-up": upload_rate_limit // 1000,
            "speed-limit-up-enabled": upload_rate_limit > 0,
            "download-dir": str(content_parent),
            "incomplete-dir-enabled": False,
            "ratio-limit-enabled": False,
        }
        (self._work / "settings.json").write_text(json.dumps(settings))
        command = ["transmission-daemon", "-f", "-g", str(self._work)]
        super().__init__(command, address, port, self._work / "transmission.log")
        rpc = f"{address}:{rpc_port}"
        deadline = time.monotonic() + START_WAIT_S
        while not _listening(address, rpc_port):
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"transmission-daemon RPC did not answer on {rpc}")
            time.sleep(_POLL_S)
        subprocess.run(
            ["transmission-remote", rpc, "--add", str(torrent_path), "--no-start-paused"],
            check=True,
            capture_output=True,
        )

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._work, ignore_errors=True)


class WebtorrentSeeder(ForeignSeeder):
    """webtorrent-cli 4 seeding a .torrent whose files are in `content_parent`.

    It joins the DHT whatever it is told, so it runs inside `netns`, or
    inside a namespace the caller is already in (None).
    """

    name = "webtorrent"

    def __init__(
        self,
        torrent_path: Path,
        content_parent: Path,
        netns: LoopbackNamespace | None,
        work_dir: Path,
        upload_rate_limit: int = 0,
        address: str = "127.0.0.1",
    ) -> None:
        port = free_port(address)
        command = [
            str(WEBTORRENT),
            "download",
            str(torrent_path),
            "--out",
            str(content_parent),
            "--torrent-port",
            str(port),
            "--port",
            str(free_port(address)),
            "--keep-seeding",
            "--quiet",
        ]
        if upload_rate_limit:
            command += ["--upload-limit", str(upload_rate_limit // 1000)]
        super().__init__(command, address, port, work_dir / "webtorrent.log", netns)
