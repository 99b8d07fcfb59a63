"""Running as a systemd service, without systemd: the unit's command line, sd_notify, status."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import status_once

pytestmark = pytest.mark.mount

UNIT = Path(__file__).parent.parent / "systemd" / "torrentfs@.service"
TORRENTFS = Path(sys.executable).parent / "torrentfs"
NOTIFY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
BUFFERED_WITHIN_S = 10.0


def _exec_start(config_root: Path, instance: str) -> list[str]:
    """The unit's ExecStart, with this checkout's torrentfs and the specifiers filled in."""
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith("ExecStart="))
    command = (
        line.removeprefix("ExecStart=").replace("%E", str(config_root)).replace("%i", instance)
    )
    program, *words = command.split()
    assert program == "/usr/local/bin/torrentfs"
    return [str(TORRENTFS), *words]


def _loopback_config(source: Path, mountpoint: Path, peer: tuple[str, int]) -> str:
    return (
        f'source = "{source}"\nmountpoint = "{mountpoint}"\n'
        f'listen = "127.0.0.1:0"\ndht = false\nlsd = false\nupnp = false\nnatpmp = false\n'
        f'peer = ["{peer[0]}:{peer[1]}"]\n'
    )


def _receive(listener: socket.socket) -> str:
    return listener.recv(4096).decode()


def test_service_notifies_ready_after_the_mount_answers_then_status_then_stopping(
    single_file, seeder_for, tmp_path
):
    seeder = seeder_for(single_file)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    (tmp_path / "torrentfs").mkdir()
    config = tmp_path / "torrentfs" / "movies.toml"
    config.write_text(_loopback_config(single_file.torrent_path, mountpoint, seeder.endpoint))
    # An abstract socket, as systemd usually passes: "@" stands for the leading NUL.
    name = f"torrentfs-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(b"\0" + name.encode())
    listener.settimeout(NOTIFY_TIMEOUT_S)
    log = tmp_path / "torrentfs.log"
    process = subprocess.Popen(
        _exec_start(tmp_path, "movies"),
        env={**os.environ, "NOTIFY_SOCKET": f"@{name}"},
        stdin=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        assert _receive(listener) == "READY=1"
        # Ready means answering: the files are there at once.
        assert os.path.ismount(mountpoint)
        assert os.listdir(mountpoint) == ["movie.bin"]
        status = _receive(listener)
        # Nothing read yet: the mount is fetching its largest file's first window.
        assert re.fullmatch(r"STATUS=warming up: .* MB/s down, .* peers, RAM store .* MiB", status)

        process.send_signal(signal.SIGTERM)
        messages = []
        while "STOPPING=1" not in messages:
            messages.append(_receive(listener))
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
        assert not os.path.ismount(mountpoint)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
            subprocess.run(["fusermount3", "-uz", str(mountpoint)], check=False)
        listener.close()
    assert "Traceback" not in log.read_text()


def test_systemd_analyze_verifies_the_unit(tmp_path):
    if not Path("/usr/bin/systemd-analyze").exists():
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # The unit as `make install-service` writes it: with this checkout's torrentfs.
    installed = tmp_path / UNIT.name
    installed.write_text(UNIT.read_text().replace("/usr/local/bin/torrentfs", str(TORRENTFS)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "torrentfs@movies.service")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # It reports what it ignores (a misspelt setting, say) on stderr and still exits 0.
    assert result.stderr.strip() == "", result.stderr


def test_status_command_reads_a_live_mount(multi_file, seeder_for, mount):
    seeder = seeder_for(multi_file)
    # A small window, so the torrent is not all fetched (the seeder would hang up).
    small_window = ("--readahead-min", "64K", "--readahead-max", "64K")
    mounted = mount(multi_file.torrent_path, "--peer", seeder.peer, *small_window)
    files = multi_file.files()
    last = mounted.mountpoint / "CD2" / "deeper" / "still" / "last.bin"
    assert os.listxattr(last) == ["user.torrentfs.progress"]
    assert os.listxattr(last.parent) == []  # a folder has no progress of its own
    assert os.getxattr(last, "user.torrentfs.progress") == b"0.0000"
    assert last.read_bytes() == files["CD2/deeper/still/last.bin"]
    assert os.getxattr(last, "user.torrentfs.progress") == b"1.0000"
    flac = mounted.mountpoint / "CD1" / "01 - Überture.flac"
    with flac.open("rb", buffering=0) as handle:
        assert handle.read(100_000) == files["CD1/01 - Überture.flac"][:100_000]
        text = _status_command(mounted.mountpoint)
        as_json = json.loads(_status_command(mounted.mountpoint, "--json"))
        # The kernel may have read past 100 000 bytes, to where the window is still on
        # its way: the status shows it buffered once it is in.
        buffered = status_once(
            mounted.mountpoint,
            lambda status: (
                bool(status["open_files"]) and status["open_files"][0]["buffered_bytes"] > 0
            ),
            BUFFERED_WITHIN_S,
        )
    assert text.splitlines()[0] == f"Album  {as_json['info_hash']}"
    assert "state       streaming" in text
    assert "CD1/01 - Überture.flac: at 0.1 MB" in text
    assert as_json["state"] == "streaming" and as_json["peers"] >= 1
    [open_file] = as_json["open_files"]
    assert open_file["path"] == "CD1/01 - Überture.flac" and open_file["position"] >= 100_000
    assert buffered["open_files"][0]["buffered_bytes"] > 0


def test_status_of_something_that_is_not_a_mount_is_one_line(tmp_path):
    result = subprocess.run(
        [str(TORRENTFS), "status", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr == f"torrentfs: error: {tmp_path} is not a torrentfs mount\n"


def test_the_status_command_loads_no_fuse_trio_or_libtorrent():
    """`torrentfs status` starts without the mount's heavy libraries (it imported all
    three, through the FUSE layer, for one constant)."""
    heavy = ("pyfuse3", "trio", "libtorrent")
    code = f"import sys, torrentfs.status; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def _status_command(mountpoint: Path, *args: str) -> str:
    result = subprocess.run(
        [str(TORRENTFS), "status", str(mountpoint), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
