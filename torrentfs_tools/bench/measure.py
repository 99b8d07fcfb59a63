"""Measuring other processes from outside: bytes they read, peak memory, wall time."""

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torrentfs.core.closing import Closing


@dataclass(frozen=True)
class CommandResult:
    seconds: float
    bytes_read: int
    returncode: int


def run_measured(command: Sequence[str], timeout_s: float) -> CommandResult:
    """Run `command`; its wall time and the bytes it read (rchar: files and sockets alike)."""
    start = time.monotonic()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Wait for the exit without reaping, so its /proc entry can still be read.
        _wait_exit_unreaped(process.pid, timeout_s)
        seconds = time.monotonic() - start
        bytes_read = _io_counter(process.pid, "rchar")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return CommandResult(seconds, bytes_read, process.returncode)


def _wait_exit_unreaped(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if info is not None:
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} still running after {timeout_s:.0f} s")


def _io_counter(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value)
    raise KeyError(name)


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise KeyError("VmHWM")


def cpu_seconds(pid: int) -> float:
    """The process's user plus system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def private_memory_bytes(pid: int) -> int:
    """The process's private anonymous memory now (RssAnon)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise KeyError("RssAnon")


def read_throughput(paths: Sequence[Path]) -> float:
    """Bytes per second of `cat`-ing `paths` in order (through xargs, few processes)."""
    total = sum(path.stat().st_size for path in paths)
    listing = b"\0".join(os.fsencode(path) for path in paths)
    start = time.monotonic()
    subprocess.run(["xargs", "-0", "cat"], input=listing, stdout=subprocess.DEVNULL, check=True)
    return total / (time.monotonic() - start)


def drop_page_cache(path: Path) -> None:
    """Forget the kernel's cached pages of `path`, so the next read reaches its filesystem."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class PeakSampler(Closing):
    """Samples a client's private memory plus the data it keeps, every `interval_s`, in a thread.

    `peak_total` is the largest sum seen and `peak_data` the largest data
    figure, until `close()`.
    """

    def __init__(self, pid: int, data_bytes: Callable[[], int], interval_s: float) -> None:
        self.peak_total = self.peak_data = 0
        self._pid, self._data_bytes, self._interval_s = pid, data_bytes, interval_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(self._interval_s):
            with contextlib.suppress(OSError):
                private, data = private_memory_bytes(self._pid), self._data_bytes()
                self.peak_total = max(self.peak_total, private + data)
                self.peak_data = max(self.peak_data, data)

    def close(self) -> None:
        self._done.set()
        self._thread.join()
