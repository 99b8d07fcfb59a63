"""aria2, rtorrent, Transmission, WebTorrent and a libtorrent process as seeders of one torrent
on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from torrentfs_tools.foreign import (
    POLL_S,
    START_WAIT_S,
    WEBTORRENT,
    ForeignSeeder,
    LoopbackNamespace,
    free_port,
    listening,
)
from torrentfs_tools.loopback import with_trackers


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
        while not listening(address, rpc_port):
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"transmission-daemon RPC did not answer on {rpc}")
            time.sleep(POLL_S)
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


class LibtorrentSeederProcess(ForeignSeeder):
    """A libtorrent session with default settings in a process of its own
    (`torrentfs_tools.seed`), so that it can run inside `netns`."""

    name = "libtorrent"

    def __init__(
        self,
        torrent_path: Path,
        content_parent: Path,
        address: str,
        netns: LoopbackNamespace | None,
        work_dir: Path,
    ) -> None:
        port = free_port(address)
        command = [sys.executable, "-m", "torrentfs_tools.seed", str(torrent_path),
                   str(content_parent), address, str(port)]  # fmt: skip
        super().__init__(command, address, port, work_dir / "libtorrent-seeder.log", netns)
