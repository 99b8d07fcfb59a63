"""The benchmark's media: a movie, a video library and a tree of small files.

Made once with ffmpeg (or random bytes) and kept in a cache folder, since
encoding takes longer than the benchmark's own runs.
"""

import concurrent.futures
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from torrentfs_tools.loopback import make_torrent

MIB = 1 << 20
MOVIE_SECONDS = 120
MOVIE_VIDEO_BITRATE = "7600k"  # with 128k audio: about 120 MB for 2 minutes
MOVIE_PIECE_LENGTH = 1 * MIB
LIBRARY_VIDEOS = 20
LIBRARY_SECONDS = 40
LIBRARY_VIDEO_BITRATE = "6000k"
LIBRARY_PIECE_LENGTH = 256 << 10
SMALL_FILES = 5000
SMALL_FILE_MIN_BYTES = 4 << 10
SMALL_FILE_MAX_BYTES = 64 << 10
SMALL_FILES_PIECE_LENGTH = 256 << 10
BIG_FILE_BYTES = 1 << 30
BIG_FILE_CHUNK_BYTES = 16 * MIB


@dataclass(frozen=True)
class BenchContent:
    """A file or folder and its .torrent (without trackers)."""

    root: Path
    torrent: bytes

    @property
    def size(self) -> int:
        if self.root.is_file():
            return self.root.stat().st_size
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _encode(
    target: Path, seconds: int, bitrate: str, size: str, faststart: bool, pattern: str
) -> None:
    if target.exists():
        return
    partial = target.with_suffix(".partial" + target.suffix)
    command = [
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"{pattern}=size={size}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
        "-b:v", bitrate, "-minrate", bitrate, "-maxrate", bitrate, "-bufsize", "2M",
        "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-b:a", "128k", "-shortest",
    ]  # fmt: skip
    if faststart:
        command += ["-movflags", "+faststart"]
    subprocess.run([*command, "-f", "mp4", str(partial)], check=True, stdin=subprocess.DEVNULL)
    partial.rename(target)


def movie(cache: Path) -> BenchContent:
    """A 2-minute 720p H.264/AAC MP4 of about 120 MB with its moov atom at the end."""
    folder = cache / "movie"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "movie.mp4"
    _encode(path, MOVIE_SECONDS, MOVIE_VIDEO_BITRATE, "1280x720", False, "testsrc2")
    return BenchContent(path, make_torrent(path, MOVIE_PIECE_LENGTH))


def library(cache: Path) -> BenchContent:
    """20 short videos, moov at the end in half of them, in season folders."""
    root = cache / "library" / "Library"
    patterns = ("testsrc2", "smptebars", "rgbtestsrc", "testsrc")

    def encode(index: int) -> None:
        season = root / f"Season {index // 10 + 1}"
        season.mkdir(parents=True, exist_ok=True)
        _encode(
            season / f"Episode {index + 1:02}.mp4",
            LIBRARY_SECONDS,
            LIBRARY_VIDEO_BITRATE,
            "640x360",
            faststart=index % 2 == 1,
            pattern=patterns[index % len(patterns)],
        )

    # ffmpeg's test patterns are drawn on one core: one encode per core.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(encode, range(LIBRARY_VIDEOS)))
    return BenchContent(root, make_torrent(root, LIBRARY_PIECE_LENGTH))


def small_files(cache: Path) -> BenchContent:
    """5 000 files of 4-64 KiB of random bytes, 50 to a folder."""
    root = cache / "small" / "Archive"
    marker = root.parent / "complete"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        rng = random.Random(5000)
        for index in range(SMALL_FILES):
            folder = root / f"{index // 50:03}"
            folder.mkdir(parents=True, exist_ok=True)
            size = rng.randrange(SMALL_FILE_MIN_BYTES, SMALL_FILE_MAX_BYTES + 1)
            (folder / f"{index:05}.dat").write_bytes(rng.randbytes(size))
        marker.touch()
    return BenchContent(root, make_torrent(root, SMALL_FILES_PIECE_LENGTH))


def big_file(cache: Path, piece_length: int = MIB, size: int = BIG_FILE_BYTES) -> BenchContent:
    """Random bytes (1 GiB unless told), in 1 MiB pieces unless told, for long reads."""
    folder = cache / "big"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("big.bin" if size == BIG_FILE_BYTES else f"big-{size >> 20}M.bin")
    if not path.exists():
        partial = path.with_suffix(".partial")
        rng = random.Random(1 << 30)
        with partial.open("wb") as out:
            for _ in range(size // BIG_FILE_CHUNK_BYTES):
                out.write(rng.randbytes(BIG_FILE_CHUNK_BYTES))
        partial.rename(path)
    return BenchContent(path, make_torrent(path, piece_length))
