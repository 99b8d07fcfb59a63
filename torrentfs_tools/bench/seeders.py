"""The seeder mix: each kind of seeder people run, read by torrentfs, btfs and a plain client.

One 48 MB file in 256 KiB pieces (v1, as aria2 needs), seeded by one seeder
of each kind capped at `RATE_BYTES_S` by its own setting: libtorrent with
its default settings (qBittorrent, Deluge), aria2, rtorrent, Transmission
and WebTorrent. Each client gets a fresh seeder (aria2 bans an address that
hung up on it) and a magnet naming it with `x.pe`. The plain client is a
libtorrent session with default settings downloading the whole torrent.
"""

import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import libtorrent as lt

from torrentfs_tools.bench.clients import BtfsClient
from torrentfs_tools.foreign import WEBTORRENT, ForeignSeeder
from torrentfs_tools.foreign_clients import (
    Aria2Seeder,
    RtorrentSeeder,
    TransmissionSeeder,
    WebtorrentSeeder,
)
from torrentfs_tools.loopback import MountProcess, Seeder, magnet_for, make_torrent

Result = dict[str, Any]

FILE_BYTES = 48_000_000
PIECE_LENGTH = 256 << 10
RATE_BYTES_S = 4_000_000
FIRST_READ_BYTES = 64 << 10
READ_CHUNK_BYTES = 1 << 20
# Far above what any client takes at the cap (12 s).
RUN_LIMIT_S = 120.0
CLIENT_ADDRESS = "127.0.0.1"
KINDS = ("libtorrent defaults", "aria2", "rtorrent", "Transmission", "WebTorrent")
_POLL_S = 0.02


def content(cache: Path) -> tuple[Path, bytes]:
    """The seeded file (made once) and its .torrent."""
    folder = cache / "seeders"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stream.bin"
    if not path.exists():
        partial = folder / "stream.bin.partial"
        partial.write_bytes(random.Random(48).randbytes(FILE_BYTES))
        partial.rename(path)
    return path, make_torrent(path, PIECE_LENGTH)


def start_seeder(kind: str, path: Path, torrent: bytes, work: Path) -> Seeder | ForeignSeeder:
    """One seeder of `kind` for the file at `path`, on an address of its own."""
    torrent_path = work / "seed.torrent"
    torrent_path.write_bytes(torrent)
    parent = path.parent
    if kind == "libtorrent defaults":
        return Seeder(torrent, parent, "127.0.0.4", RATE_BYTES_S, tick_interval_ms=None)
    if kind == "aria2":
        return Aria2Seeder(torrent_path, parent, "127.0.0.5", RATE_BYTES_S, work)
    if kind == "rtorrent":
        return RtorrentSeeder(torrent, parent, "127.0.0.8", work, RATE_BYTES_S)
    if kind == "Transmission":
        return TransmissionSeeder(torrent_path, parent, "127.0.0.10", work, RATE_BYTES_S)
    # The whole benchmark runs in a namespace with only lo: no namespace of its own.
    return WebtorrentSeeder(torrent_path, parent, None, work, RATE_BYTES_S, "127.0.0.12")


def kinds_available() -> list[str]:
    return [kind for kind in KINDS if kind != "WebTorrent" or WEBTORRENT.exists()]


def run_all(cache: Path, work: Path, log: Callable[[str], None]) -> list[Result]:
    """Every kind with every client: one row per kind."""
    path, torrent = content(cache)
    rows = []
    for kind in kinds_available():
        row: Result = {"kind": kind}
        for client, run in (("plain", _plain), ("torrentfs", torrentfs_read), ("btfs", _btfs)):
            log(f"seeders: {kind}, {client}")
            run_dir = work / f"seeders-{kind.split()[0]}-{client}"
            run_dir.mkdir(parents=True)
            try:
                with start_seeder(kind, path, torrent, run_dir) as seeder:
                    magnet = magnet_for(torrent, [seeder.endpoint])
                    row[client] = run(magnet, path, run_dir)
            except Exception as error:  # one failing run must not lose the others' figures
                log(f"seeders: {kind}, {client} failed: {error!r}")
                row[client] = {"error": repr(error)}
        rows.append(row)
    return rows


def _plain(magnet: str, path: Path, run_dir: Path) -> Result:
    return plain_download(magnet, run_dir, FILE_BYTES)


def plain_download(magnet: str, run_dir: Path, file_bytes: int) -> Result:
    """A libtorrent session with default settings downloading everything."""
    session = lt.session(
        {
            "listen_interfaces": f"{CLIENT_ADDRESS}:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": 0,
        }
    )
    params = lt.parse_magnet_uri(magnet)
    params.save_path = str(run_dir / "plain")
    start = time.monotonic()
    handle = session.add_torrent(params)
    metadata_s = first_piece_s = None
    while time.monotonic() - start < RUN_LIMIT_S:
        status = handle.status()
        now = time.monotonic() - start
        if metadata_s is None and status.has_metadata:
            metadata_s = now
        if first_piece_s is None and status.num_pieces:
            first_piece_s = now
        if status.is_seeding:
            break
        time.sleep(_POLL_S)
    total_s = time.monotonic() - start
    done = handle.status().total_wanted_done
    session.remove_torrent(handle)
    shutil.rmtree(run_dir / "plain", ignore_errors=True)
    if first_piece_s is None or done < file_bytes:
        raise TimeoutError(f"plain client: {done} of {file_bytes} bytes")
    return {
        "metadata_s": metadata_s,
        "first_piece_s": first_piece_s,
        "rate_bytes_s": file_bytes / (total_s - first_piece_s),
    }


def _read_through(file: Path, start: float, expected: Path) -> Result:
    """First 64 KiB, then the whole file in order; both checked against the original."""
    while not file.exists():
        if time.monotonic() - start > RUN_LIMIT_S:
            raise TimeoutError(f"{file} never appeared")
        time.sleep(_POLL_S)
    visible_s = time.monotonic() - start
    with file.open("rb") as handle, expected.open("rb") as original:
        first = handle.read(FIRST_READ_BYTES)
        first_64k_s = time.monotonic() - start
        if first != original.read(FIRST_READ_BYTES):
            raise ValueError("wrong bytes")
        read_start = time.monotonic()
        while chunk := handle.read(READ_CHUNK_BYTES):
            if chunk != original.read(len(chunk)):
                raise ValueError("wrong bytes")
            if time.monotonic() - start > RUN_LIMIT_S:
                raise TimeoutError("read not done")
        read_s = time.monotonic() - read_start
    return {
        "visible_s": visible_s,
        "first_64k_s": first_64k_s,
        "rate_bytes_s": (FILE_BYTES - FIRST_READ_BYTES) / read_s,
    }


def torrentfs_read(magnet: str, path: Path, run_dir: Path, args: Sequence[str] = ()) -> Result:
    """A single mount of `magnet` (with `args`) read through from start to end."""
    mountpoint = run_dir / "mnt"
    mountpoint.mkdir()
    with MountProcess(magnet, mountpoint, args, run_dir / "torrentfs.log") as mounted:
        result = _read_through(mountpoint / path.name, mounted.started_at, path)
        stop = time.monotonic()
        mounted.unmount()
        result["exit_s"] = time.monotonic() - stop
        return result


def _btfs(magnet: str, path: Path, run_dir: Path) -> Result:
    client = BtfsClient(run_dir)
    client.start(magnet)
    try:
        # btfs shows a torrent's file only once it has the metadata.
        return _read_through(Path(client.location(path.name)), client.started_at, path)
    finally:
        client.stop()
