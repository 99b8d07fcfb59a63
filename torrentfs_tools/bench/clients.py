"""The clients compared: torrentfs and btfs (FUSE mounts) and webtorrent-cli (HTTP).

Each client runs as a child process on one .torrent and exposes the files as
a location that ffmpeg and ffprobe can open: a path in a mount, or a URL.
"""

import os
import shutil
import subprocess
import time
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import quote

import libtorrent as lt

from torrentfs.engine.storage import memory_root
from torrentfs_tools.loopback import MountProcess

VISIBLE_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
WEBTORRENT_PORT = 8765
_POLL_S = 0.01


class Client(ABC):
    """One client under test, started on one torrent."""

    name: str

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.started_at = 0.0

    @abstractmethod
    def start(self, torrent: Path) -> None: ...

    @abstractmethod
    def location(self, relative: str) -> str:
        """Where a player opens the file at `relative` inside the torrent."""

    @abstractmethod
    def read(self, location: str, offset: int, length: int) -> bytes: ...

    @abstractmethod
    def is_visible(self, location: str) -> bool: ...

    @property
    @abstractmethod
    def pid(self) -> int: ...

    @abstractmethod
    def stop(self) -> None: ...

    def wait_visible(self, relative: str) -> float:
        """Seconds from start until the file can be opened."""
        location = self.location(relative)
        while not self.is_visible(location):
            if time.monotonic() - self.started_at > VISIBLE_TIMEOUT_S:
                raise TimeoutError(f"{self.name}: {relative} not visible")
            time.sleep(_POLL_S)
        return time.monotonic() - self.started_at


class FuseClient(Client):
    """A client that mounts the torrent; files are paths."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.mountpoint = run_dir / "mnt"
        self.mountpoint.mkdir(parents=True, exist_ok=True)

    def location(self, relative: str) -> str:
        return str(self.mountpoint / relative)

    def read(self, location: str, offset: int, length: int) -> bytes:
        with open(location, "rb") as handle:
            return os.pread(handle.fileno(), length, offset)

    @abstractmethod
    def ram_data_bytes(self) -> int:
        """Bytes of the torrent's data the client keeps in RAM outside its own memory (tmpfs)."""

    @abstractmethod
    def disk_data_bytes(self) -> int:
        """Bytes of the torrent's data the client keeps on disk."""

    def data_bytes(self) -> int:
        """Bytes the client keeps of the torrent's data outside its own memory."""
        return self.ram_data_bytes() + self.disk_data_bytes()

    def is_visible(self, location: str) -> bool:
        try:
            os.stat(location)
        except OSError:
            return False
        return True


class TorrentfsClient(FuseClient):
    def __init__(
        self, run_dir: Path, extra_args: tuple[str, ...] = (), name: str = "torrentfs"
    ) -> None:
        super().__init__(run_dir)
        self.name = name
        self._cache_dir = run_dir / "cache"
        # Used by --storage disk only.
        self._extra_args = ("--cache-dir", str(self._cache_dir), *extra_args)
        self._mount: MountProcess | None = None

    def start(self, torrent: Path) -> None:
        self.started_at = time.monotonic()
        self._mount = MountProcess(
            str(torrent), self.mountpoint, self._extra_args, self.run_dir / "torrentfs.log"
        )
        self.started_at = self._mount.started_at

    @property
    def pid(self) -> int:
        assert self._mount is not None
        return self._mount.process.pid

    def ram_data_bytes(self) -> int:
        """Memory mode: bytes of libtorrent's working files on tmpfs."""
        return _allocated_bytes(memory_root() / str(self.pid))

    def disk_data_bytes(self) -> int:
        return _allocated_bytes(self._cache_dir)

    def stop(self) -> None:
        assert self._mount is not None
        self._mount.unmount()
        self._mount.close()


class BtfsClient(FuseClient):
    name = "btfs"

    def __init__(self, run_dir: Path, extra_args: tuple[str, ...] = ()) -> None:
        super().__init__(run_dir)
        self._extra_args = extra_args
        self._data = run_dir / "btfs-data"
        self._process: subprocess.Popen[bytes] | None = None
        self._top_folder = ""

    def location(self, relative: str) -> str:
        # btfs shows a multi-file torrent inside a folder named after it.
        return str(self.mountpoint / self._top_folder / relative)

    def start(self, torrent: Path | str) -> None:
        """Mount a .torrent file, or a magnet link (its files then show once btfs has them)."""
        if isinstance(torrent, Path):
            files = lt.torrent_info(str(torrent)).files()
            if "/" in files.file_path(0):
                self._top_folder = files.name()
        self._data.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            [
                "btfs",
                "-f",
                f"--data-directory={self._data}",
                *self._extra_args,
                str(torrent),
                str(self.mountpoint),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.run_dir / "btfs.log").open("wb"),
        )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def ram_data_bytes(self) -> int:
        return 0

    def disk_data_bytes(self) -> int:
        return _allocated_bytes(self._data)

    def stop(self) -> None:
        assert self._process is not None
        subprocess.run(["fusermount3", "-u", str(self.mountpoint)], check=False)
        _stop_process(self._process)
        shutil.rmtree(self._data, ignore_errors=True)


class WebtorrentClient(Client):
    """webtorrent-cli 4 streaming over HTTP; files are URLs."""

    name = "webtorrent"

    def __init__(self, run_dir: Path, executable: Path) -> None:
        super().__init__(run_dir)
        self._executable = executable
        self._out = run_dir / "webtorrent-data"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, torrent: Path) -> None:
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            [str(self._executable), "download", str(torrent), "--port", str(WEBTORRENT_PORT),
             "--keep-seeding", "--quiet", "--out", str(self._out)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.run_dir / "webtorrent.log").open("wb"),
        )  # fmt: skip

    def location(self, relative: str) -> str:
        # webtorrent serves file N of the torrent at /N/NAME; the benchmark
        # only asks it for single-file torrents.
        return f"http://127.0.0.1:{WEBTORRENT_PORT}/0/{quote(relative)}"

    def read(self, location: str, offset: int, length: int) -> bytes:
        request = urllib.request.Request(
            location, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )
        with urllib.request.urlopen(request) as response:
            data: bytes = response.read()
            return data

    def is_visible(self, location: str) -> bool:
        try:
            with urllib.request.urlopen(urllib.request.Request(location, method="HEAD")):
                return True
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        assert self._process is not None
        _stop_process(self._process)
        shutil.rmtree(self._out, ignore_errors=True)


def _allocated_bytes(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def _stop_process(process: "subprocess.Popen[bytes]") -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
