"""A loopback swarm for the demo, the tests and the benchmarks.

Makes torrents from local files, seeds them from libtorrent sessions bound to
one loopback address each (127.0.0.2, 127.0.0.3, ...) with DHT, LSD, UPnP and
NAT-PMP off, and runs `torrentfs mount` as a child process against them. This
is tooling around the product, which is why it may import libtorrent too.
Nothing here talks to any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import libtorrent as lt

from torrentfs.core.closing import Closing

# Flags that keep a torrentfs child on loopback, talking only to given peers.
LOOPBACK_MOUNT_FLAGS = (
    "--listen",
    "127.0.0.1:0",
    "--no-dht",
    "--no-lsd",
    "--no-upnp",
    "--no-natpmp",
)
SEEDER_TICK_INTERVAL_MS = 50
MOUNT_WAIT_S = 30.0
UNMOUNT_WAIT_S = 15.0
_POLL_S = 0.05
TINY_PIECE_LENGTH = 16 << 10
# A peer's cancel as libtorrent's peer log writes it: "<== CANCEL [ piece: 12 s: 4000 ...".
_CANCEL_RECEIVED = re.compile(r"<== CANCEL \[ piece: (\d+)")
# Peer logs come a few per block: room for every one between two looks.
_PEER_LOG_QUEUE = 1_000_000


def make_torrent(content: Path, piece_length: int, hybrid: bool = False) -> bytes:
    """The bencoded .torrent of a file or folder, its files in path order.

    v1 by default; `hybrid` makes a v1+v2 torrent, which aligns files to
    pieces with BEP 47 padding files. Magnets use the v1 hash either way.
    """
    flags = 0 if hybrid else lt.create_torrent.v1_only
    # In path order, as torrent makers list files (libtorrent lists them in
    # directory order).
    files = sorted(lt.list_files(str(content)), key=lambda entry: entry.filename)
    creator = lt.create_torrent(files, piece_length, flags=flags)
    creator.set_creator("torrentfs loopback")
    lt.set_piece_hashes(creator, str(content.parent))
    data: bytes = lt.bencode(creator.generate())
    return data


# Chromium headless kept on loopback: no background services, and every host name but
# the loopback address fails to resolve, so nothing it starts on its own leaves the machine.
CHROMIUM_LOOPBACK_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def tiny_torrents(content: Path, count: int, size: int = 1024) -> list[bytes]:
    """`count` torrents of one small file each (made in `content` once, kept for next
    time), for libraries whose size is the point, not their bytes."""
    content.mkdir(parents=True, exist_ok=True)
    torrents = []
    for index in range(count):
        path = content / f"e{index:05d}.bin"
        if not path.exists():
            path.write_bytes(index.to_bytes(4, "big") * (size // 4))
        torrents.append(make_torrent(path, TINY_PIECE_LENGTH))
    return torrents


def write_tiny_library(watch: Path, content: Path, count: int) -> None:
    """A watch folder of `count` tiny torrents (`tiny_torrents` of `content`), named by
    number."""
    watch.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(tiny_torrents(content, count)):
        (watch / f"{index:04d}.torrent").write_bytes(data)


def with_trackers(torrent_data: bytes, announce_urls: Sequence[str]) -> bytes:
    """The same torrent (same info-hash) announcing to `announce_urls`."""
    decoded = cast("dict[bytes, object]", lt.bdecode(torrent_data))
    decoded[b"announce"] = announce_urls[0].encode()
    decoded[b"announce-list"] = [[url.encode()] for url in announce_urls]
    data: bytes = lt.bencode(decoded)  # type: ignore[arg-type]
    return data


def with_web_seeds(torrent_data: bytes, urls: Sequence[str]) -> bytes:
    """The same torrent (same info-hash) with BEP 19 web seeds."""
    decoded = cast("dict[bytes, object]", lt.bdecode(torrent_data))
    decoded[b"url-list"] = [url.encode() for url in urls]
    data: bytes = lt.bencode(decoded)  # type: ignore[arg-type]
    return data


def info_hash_of(torrent_data: bytes) -> str:
    return str(lt.torrent_info(torrent_data).info_hashes().v1)


def magnet_for(torrent_data: bytes, peers: Sequence[tuple[str, int]]) -> str:
    uri = f"magnet:?xt=urn:btih:{info_hash_of(torrent_data)}"
    return uri + "".join(f"&x.pe={host}:{port}" for host, port in peers)


class Seeder(Closing):
    """A libtorrent session on one loopback address seeding one torrent, or more (`seed`)."""

    def __init__(
        self,
        torrent_data: bytes,
        content_parent: Path,
        address: str = "127.0.0.2",
        upload_rate_limit: int = 0,
        port: int = 0,
        verify: bool = True,
        tick_interval_ms: int | None = SEEDER_TICK_INTERVAL_MS,
        log_peer_messages: bool = False,
    ) -> None:
        """Seed the files under `content_parent`.

        With `verify` false the seeder claims every piece without hashing
        its files (seed mode hashes each piece before sending it): with
        altered files, a peer that sends corrupt data. With
        `tick_interval_ms` None it keeps libtorrent's default tick (500 ms),
        as qBittorrent and Deluge do. With `log_peer_messages` it keeps libtorrent's
        peer log, for `cancels_received`.
        """
        settings: lt.settings_pack = {
            "listen_interfaces": f"{address}:{port}",
            "outgoing_interfaces": address,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": lt.alert_category.peer_log if log_peer_messages else 0,
            "alert_queue_size": _PEER_LOG_QUEUE,
            "upload_rate_limit": upload_rate_limit,
            # Loopback peers count as local and would ignore the rate limit.
            "ignore_limits_on_local_network": upload_rate_limit == 0,
            # The rate limiter hands out bandwidth once per tick, even for
            # handshakes: at the default 500 ms a rate-limited seeder held
            # each protocol step half a second, which no real link does.
        }
        if tick_interval_ms is not None:
            settings["tick_interval"] = tick_interval_ms
        self.address = address
        self._cancelled: set[int] = set()
        self._session = lt.session(settings)
        self._handles: list[lt.torrent_handle] = []
        self.seed(torrent_data, content_parent, verify)

    def seed(self, torrent_data: bytes, content_parent: Path, verify: bool = True) -> None:
        """Seed one more torrent, as a seedbox seeds many: never queued, all at once."""
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent_data)
        params.save_path = str(content_parent)
        if verify:
            params.flags = lt.torrent_flags.seed_mode
        else:
            params.have_pieces = [True] * params.ti.num_pieces()
            params.flags &= ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
        self._handles.append(self._session.add_torrent(params))

    @property
    def peer(self) -> str:
        """This seeder as `--peer` takes it: ADDRESS:PORT."""
        return "{}:{}".format(*self.endpoint)

    @property
    def port(self) -> int:
        port: int = self._session.listen_port()
        return port

    @property
    def endpoint(self) -> tuple[str, int]:
        return (self.address, self.port)

    def peer_count(self) -> int:
        """Peers connected to this seeder now, over all its torrents."""
        return sum(handle.status().num_peers for handle in self._handles)

    def uploaded_bytes(self) -> int:
        """Payload bytes this seeder has sent since it started, over all its torrents."""
        return sum(handle.status().total_payload_upload for handle in self._handles)

    def cancels_received(self) -> set[int]:
        """The pieces a peer has sent this seeder a cancel for, so far (with
        `log_peer_messages`)."""
        for alert in self._session.pop_alerts():
            if isinstance(alert, lt.peer_log_alert):
                found = _CANCEL_RECEIVED.search(alert.message())
                if found:
                    self._cancelled.add(int(found.group(1)))
        return set(self._cancelled)

    def settled_upload(self, quiet_s: float, limit_s: float) -> int | None:
        """The upload total once it stayed put for `quiet_s`; None if it kept growing `limit_s`."""
        deadline = time.monotonic() + limit_s
        last = self.uploaded_bytes()
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = self.uploaded_bytes()
            if now == last:
                return now
            last = now
        return None

    def close(self) -> None:
        """Stop seeding and free the address: a seeder may come back on the same port."""
        if not hasattr(self, "_session"):
            return
        for handle in self._handles:
            self._session.remove_torrent(handle)
        self._session.pause()
        del self._handles, self._session


def mount_command(
    source: str, mountpoint: Path, extra_args: Sequence[str] = (), prefix: Sequence[str] = ()
) -> list[str]:
    """`torrentfs mount` of this interpreter, on loopback only, run by `prefix` if given."""
    return [
        *prefix,
        sys.executable,
        "-m",
        "torrentfs",
        "mount",
        source,
        str(mountpoint),
        *LOOPBACK_MOUNT_FLAGS,
        *extra_args,
    ]


class MountProcess(Closing):
    """`torrentfs mount` in a child process, unmounted and reaped on exit whatever happens."""

    def __init__(
        self,
        source: str,
        mountpoint: Path,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.mountpoint = mountpoint
        self.command = mount_command(source, mountpoint, extra_args, prefix)
        self._log_path = log_path or mountpoint.parent / f"{mountpoint.name}.log"
        self._log = self._log_path.open("wb")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_mounted(self, timeout_s: float = MOUNT_WAIT_S) -> float:
        """Seconds from start until the mount is up; raises RuntimeError with the log if never."""
        while not _answers(self.mountpoint):
            if self.process.poll() is not None or time.monotonic() - self.started_at > timeout_s:
                raise RuntimeError(f"torrentfs did not mount:\n{self.log_text()}")
            time.sleep(_POLL_S)
        return time.monotonic() - self.started_at

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self._log_path.read_text(errors="replace")

    def unmount(self) -> int:
        """Unmount with fusermount3 and return the exit code of torrentfs."""
        subprocess.run(["fusermount3", "-u", str(self.mountpoint)], check=False)
        return self.wait_exit()

    def wait_exit(self, timeout_s: float = UNMOUNT_WAIT_S) -> int:
        return self.process.wait(timeout=timeout_s)

    def close(self) -> None:
        """Make sure nothing is left: no process, no mount."""
        if self.process.poll() is None:
            if os.path.ismount(self.mountpoint):
                subprocess.run(
                    ["fusermount3", "-u", str(self.mountpoint)], check=False, capture_output=True
                )
            try:
                self.process.wait(timeout=UNMOUNT_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.path.ismount(self.mountpoint) or _is_stale(self.mountpoint):
            subprocess.run(
                ["fusermount3", "-uz", str(self.mountpoint)], check=False, capture_output=True
            )
        self._log.close()


def _answers(mountpoint: Path) -> bool:
    """A live mount: a stale one (its daemon killed) can still look mounted to `stat`."""
    if not os.path.ismount(mountpoint):
        return False
    try:
        os.statvfs(mountpoint)
    except OSError:
        return False
    return True


def _is_stale(path: Path) -> bool:
    try:
        path.stat()
    except OSError:
        return True
    return False
