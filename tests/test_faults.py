"""Faults while mounted: slow or missing peers, corrupt peers, kills, signals and load."""

import os
import random
import signal
import subprocess
import threading
import time

import pytest

from tests.helpers import read_at, status_once
from torrentfs.engine.storage import memory_root
from torrentfs.status import read_status
from torrentfs_tools.loopback import (
    MOUNT_WAIT_S,
    MountProcess,
    Seeder,
    magnet_for,
    mount_command,
)

pytestmark = pytest.mark.mount

# Liveness bounds: far above what these take, so only a hang trips them.
READ_BOUND_S = 60.0
# The shutdown bound the robustness issue sets.
SHUTDOWN_BOUND_S = 5.0


def _in_thread(work) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # reported by the test that joins
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_read_timeout_answers_eio_and_logs_the_pieces(single_file, mount):
    mounted = mount(single_file.torrent_path, "--read-timeout", "1s")  # nobody seeds it
    with pytest.raises(OSError) as raised:
        read_at(mounted.mountpoint / "movie.bin", 200_000, 10)
    assert raised.value.errno == 5  # EIO
    assert "waited 1 s for pieces [3]; answering EIO (--read-timeout)" in mounted.log_text()
    assert mounted.unmount() == 0


def test_a_read_waits_while_the_only_seeder_is_gone_and_completes_when_it_is_back(
    single_file, mount
):
    original = single_file.root.read_bytes()
    seeder = Seeder(single_file.data, single_file.parent, "127.0.0.2", upload_rate_limit=2 << 20)
    endpoint = seeder.endpoint
    mounted = mount(single_file.torrent_path, "--peer", "{}:{}".format(*endpoint))
    path = mounted.mountpoint / "movie.bin"
    thread, outcome = _in_thread(lambda: path.read_bytes())
    time.sleep(1.0)
    seeder.close()
    time.sleep(3.0)
    assert thread.is_alive(), "the whole file came before the seeder left: nothing was tested"
    with Seeder(single_file.data, single_file.parent, endpoint[0], port=endpoint[1]):
        thread.join(READ_BOUND_S)
        assert outcome == [original]
    assert mounted.unmount() == 0


def test_a_seeder_back_after_everything_wanted_had_arrived_serves_the_next_read(single_file, mount):
    """A seed lost while every wanted piece was in is dialed again once a read wants a
    piece: libtorrent strands seeds only for a torrent added wanting nothing (the
    engine never re-adds one that way), not for one that became finished.
    """
    original = single_file.root.read_bytes()
    seeder = Seeder(single_file.data, single_file.parent, "127.0.0.2")
    endpoint = seeder.endpoint
    mounted = mount(
        single_file.torrent_path,
        *("--peer", "{}:{}".format(*endpoint), "--readahead-min", "1M", "--readahead-max", "1M"),
    )
    path = mounted.mountpoint / "movie.bin"
    assert read_at(path, 0, 1000) == original[:1000]
    arrived = status_once(
        mounted.mountpoint, lambda s: not s["libtorrent_wanted_pieces"], READ_BOUND_S
    )
    assert not arrived["libtorrent_wanted_pieces"], "the first window never arrived"
    seeder.close()
    with Seeder(single_file.data, single_file.parent, endpoint[0], port=endpoint[1]):
        seek_to = 10 << 20
        thread, outcome = _in_thread(lambda: read_at(path, seek_to, 1000))
        thread.join(READ_BOUND_S)
        assert outcome == [original[seek_to : seek_to + 1000]]
    assert mounted.unmount() == 0


def test_a_corrupt_peer_is_caught_by_the_hash_and_never_reaches_a_read(
    single_file, mount, tmp_path
):
    original = single_file.root.read_bytes()
    corrupt_folder = tmp_path / "corrupt"
    corrupt_folder.mkdir()
    damaged = bytearray(original)
    piece = single_file.piece_length
    # The liar alters every 8th piece from the 5th.
    for index in range(4, len(original) // piece, 8):
        damaged[index * piece + 100] ^= 0xFF
    (corrupt_folder / single_file.root.name).write_bytes(damaged)
    with (
        Seeder(single_file.data, corrupt_folder, "127.0.0.2", verify=False) as liar,
        Seeder(single_file.data, single_file.parent, "127.0.0.3") as honest,
    ):
        mounted = mount(
            single_file.torrent_path,
            *("--read-timeout", f"{READ_BOUND_S:.0f}s"),
            *("--peer", "{}:{}".format(*liar.endpoint), "--peer", "{}:{}".format(*honest.endpoint)),
        )
        path = mounted.mountpoint / "movie.bin"
        # A piece at a time, so every read asks for pieces of both kinds soon.
        for offset in range(0, len(original), piece):
            data = read_at(path, offset, piece)
            assert data == original[offset : offset + piece], f"wrong bytes at {offset}"
        log = mounted.log_text()
        assert "failed its hash check" in log, "no corrupt piece was received"
        assert mounted.unmount() == 0


def test_ctrl_c_ends_a_blocked_reader_at_once_and_the_mount_still_unmounts(single_file, mount):
    mounted = mount(single_file.torrent_path)  # nobody seeds this one
    # coreutils cat: SIGINT kills it, as Ctrl-C does in a terminal. Its
    # disposition is set as a terminal's shell sets it: a test run started
    # in the background by a non-interactive shell ignores SIGINT, and cat
    # would inherit that.
    cat = subprocess.Popen(
        ["cat", str(mounted.mountpoint / "movie.bin")],
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    with pytest.raises(subprocess.TimeoutExpired):
        cat.wait(timeout=1.5)
    assert read_status(mounted.mountpoint)["requested_pieces"], "the read is not waiting"
    cat.send_signal(signal.SIGINT)
    assert cat.wait(timeout=SHUTDOWN_BOUND_S) == -signal.SIGINT
    # The kernel gave up the read, but torrentfs still waits for its pieces:
    # the unmount must end the process all the same.
    assert mounted.unmount() == 0, mounted.log_text()
    assert not os.path.ismount(mounted.mountpoint)


def test_after_sigkill_a_new_mount_clears_the_stale_one_by_itself(
    single_file, seeder_for, tmp_path
):
    """As systemd's Restart= starts it again: no fusermount3 -u, no --force."""
    seeder = seeder_for(single_file)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    source = magnet_for(single_file.data, [seeder.endpoint])
    original = single_file.root.read_bytes()
    killed = MountProcess(source, mountpoint, log_path=tmp_path / "killed.log")
    second = None
    try:
        killed.wait_mounted()
        assert read_at(mountpoint / "movie.bin", 0, 100) == original[:100]
        killed.process.kill()
        killed.process.wait()
        dead_workdir = memory_root() / str(killed.process.pid)
        assert dead_workdir.exists(), "a killed torrentfs cannot clean up after itself"

        second = MountProcess(source, mountpoint, log_path=tmp_path / "second.log")
        second.wait_mounted()
        assert "clearing the stale mount" in second.log_text()
        assert read_at(mountpoint / "movie.bin", 5000, 100) == original[5000:5100]
        assert not dead_workdir.exists()
        assert second.unmount() == 0
    finally:
        for process in (second, killed):
            if process is not None:
                process.close()


@pytest.mark.parametrize("moment", ["fetching metadata", "idle"])
def test_sigterm_unmounts_cleanly_and_quickly(moment, single_file, seeder_for, mount):
    if moment == "fetching metadata":
        mounted = mount(magnet_for(single_file.data, [("127.0.0.2", 9)]))  # nobody there
    else:
        seeder = seeder_for(single_file)
        mounted = mount(
            single_file.torrent_path,
            "--idle-timeout",
            "1s",
            "--peer",
            "{}:{}".format(*seeder.endpoint),
        )
        assert (
            read_at(mounted.mountpoint / "movie.bin", 0, 10) == single_file.root.read_bytes()[:10]
        )
        deadline = time.monotonic() + READ_BOUND_S
        while "idle: no reads" not in mounted.log_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    mounted.process.send_signal(signal.SIGTERM)
    assert mounted.wait_exit(timeout_s=SHUTDOWN_BOUND_S) == 0, mounted.log_text()
    assert not os.path.ismount(mounted.mountpoint)


def test_many_readers_at_once_get_exact_bytes_within_the_budget(fifty_files, seeder_for, mount):
    seeder = seeder_for(fifty_files)
    mounted = mount(
        fifty_files.torrent_path, "--cache-size", "16M", "--peer", "{}:{}".format(*seeder.endpoint)
    )
    files = fifty_files.files()
    names = sorted(files)

    def reader(seed: int, name: str, sequential: bool) -> bool:
        rng = random.Random(seed)
        expected = files[name]
        path = mounted.mountpoint / name
        if sequential:
            return path.read_bytes() == expected
        for _ in range(40):
            offset = rng.randrange(len(expected))
            size = rng.choice([1, 4096, 65536, 300_000])
            if read_at(path, offset, size) != expected[offset : offset + size]:
                return False
        return True

    jobs = [(i, names[i * 5], i % 2 == 0) for i in range(8)]
    jobs += [(100 + i, "video-17.mkv", i % 2 == 0) for i in range(4)]
    threads = [_in_thread(lambda job=job: reader(*job)) for job in jobs]
    for thread, _ in threads:
        thread.join(READ_BOUND_S)
    assert [outcome for _, outcome in threads] == [[True]] * len(jobs)
    status = read_status(mounted.mountpoint)
    assert status["store"]["bytes"] <= status["store"]["budget_bytes"]
    working = status.get("working_files_bytes")
    assert working is not None and working <= 16 << 20
    assert mounted.unmount() == 0


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("missing", [], "does not exist: create it with mkdir"),
        ("file", [], "is not a directory"),
        ("full", [], "is not empty: use an empty directory"),
        ("torrentfs", [], "is already a torrentfs mount: unmount it first"),
        ("empty", ["--cache-size", "lots"], "invalid size 'lots'"),
        ("empty", ["--readahead", "soon"], "invalid duration 'soon'"),
        ("empty", ["--cache-size", "1M"], "--cache-size 1M is too small"),
    ],
)
def test_bad_mountpoints_and_options_fail_with_one_line_and_mount_nothing(
    setup, args, message, single_file, mount, tmp_path
):
    target = tmp_path / "target"
    if setup == "file":
        target.write_text("x")
    elif setup == "full":
        target.mkdir()
        (target / "keep.txt").write_text("x")
    elif setup == "empty":
        target.mkdir()
    elif setup == "torrentfs":
        target = mount(single_file.torrent_path).mountpoint
    _fails_with_one_line([*mount_command(str(single_file.torrent_path), target), *args], message)
    assert os.path.ismount(target) == (setup == "torrentfs")


# A well-formed torrent of one empty file, which holds no pieces at all.
ZERO_BYTE_TORRENT = b"d4:infod6:lengthi0e4:name9:empty.txt12:piece lengthi16384e6:pieces0:ee"


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (lambda valid: valid[: len(valid) // 2], "is not a valid .torrent file: unexpected end"),
        (lambda valid: b"", "is not bencoded"),
        (lambda valid: b"d8:announce3:urle", "is not a valid .torrent file"),
        (
            lambda valid: ZERO_BYTE_TORRENT,
            "is not a valid .torrent file: invalid length of torrent",
        ),
    ],
    ids=["truncated", "empty file", "no info", "0-byte torrent"],
)
def test_bad_torrent_files_fail_with_one_line_and_mount_nothing(
    contents, message, single_file, tmp_path
):
    bad = tmp_path / "bad.torrent"
    bad.write_bytes(contents(single_file.torrent_path.read_bytes()))
    target = tmp_path / "target"
    target.mkdir()
    _fails_with_one_line(mount_command(str(bad), target), message)
    assert not os.path.ismount(target)


def _fails_with_one_line(command: list[str], message: str) -> None:
    """`command` exits 2 with one line on stderr, and that line holds `message`."""
    result = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=MOUNT_WAIT_S
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("torrentfs: error: "), result.stderr
    assert message in lines[0]


# A mount namespace whose /dev has what Python needs and no fuse device.
_WITHOUT_DEV_FUSE = (
    "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && "
    "mknod -m 666 /dev/urandom c 1 9 && mkdir /dev/shm && mount -t tmpfs none /dev/shm && "
    'exec "$@"'
)


@pytest.mark.parametrize(
    ("wrapper", "message"),
    [
        (["unshare", "--mount", "sh", "-c", _WITHOUT_DEV_FUSE, "sh"], "no /dev/fuse: load"),
        # Root without capabilities: what an unprivileged container gets.
        (
            ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"],
            "fusermount3: mount failed: Operation not permitted (FUSE needs root",
        ),
    ],
    ids=["no /dev/fuse", "no right to mount"],
)
def test_without_fuse_a_mount_fails_with_one_line_and_mounts_nothing(
    wrapper, message, single_file, tmp_path
):
    target = tmp_path / "target"
    target.mkdir()
    _fails_with_one_line([*wrapper, *mount_command(str(single_file.torrent_path), target)], message)
    assert not os.path.ismount(target)
