"""The command line: `torrentfs mount`, `torrentfs demo`.

Parses arguments into `Settings`, runs the subcommand, and turns a UserError
into one line on stderr and exit code 2.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from torrentfs import __version__
from torrentfs.config import (
    DEFAULT_CACHE_BYTES,
    DEFAULT_HEAD_BYTES,
    DEFAULT_IDLE_DISCONNECT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_LISTEN,
    DEFAULT_METADATA_TIMEOUT_S,
    DEFAULT_READAHEAD_MAX_BYTES,
    DEFAULT_READAHEAD_MIN_BYTES,
    DEFAULT_READAHEAD_S,
    DEFAULT_TAIL_BYTES,
    MIN_CACHE_BYTES,
    PAUSE_ON_VIDEO_PAUSE_ENV,
    STORAGE_MODE_ENV,
    IdleSettings,
    NetworkSettings,
    Settings,
    StorageMode,
    StorageSettings,
    StreamSettings,
    store_bytes,
)
from torrentfs.config_file import read_config
from torrentfs.errors import EXIT_USER_ERROR, UserError
from torrentfs.logs import LOG_LEVELS, configure_logging
from torrentfs.source import parse_peer, parse_source, parse_tracker
from torrentfs.units import parse_duration, parse_size

log = logging.getLogger("torrentfs")

# Options whose environment variable, when set, wins over a config file.
ENVIRONMENT_OPTIONS = {"storage": STORAGE_MODE_ENV, "idle-timeout": PAUSE_ON_VIDEO_PAUSE_ENV}


def build_parser() -> argparse.ArgumentParser:
    return _build_parsers()[0]


def _build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The whole command line, and its `mount` subcommand (whose options config files hold)."""
    parser = argparse.ArgumentParser(
        prog="torrentfs",
        description="Mount a torrent as a read-only folder whose files stream as they are read.",
    )
    parser.add_argument("--version", action="version", version=f"torrentfs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    mount = commands.add_parser(
        "mount",
        help="mount a torrent and serve it until unmounted",
        description="Mount SOURCE at MOUNTPOINT in the foreground until `fusermount3 -u "
        "MOUNTPOINT`, Ctrl-C or SIGTERM.",
    )
    mount.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="magnet link, .torrent file or info-hash (or `source` in --config)",
    )
    mount.add_argument(
        "mountpoint",
        nargs="?",
        metavar="MOUNTPOINT",
        help="an empty directory (or `mountpoint` in --config)",
    )
    mount.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read settings from this TOML file (keys are the long option names; options "
        "given here and the environment win over it)",
    )
    mount.add_argument(
        "--cache-size",
        default=f"{DEFAULT_CACHE_BYTES >> 20}M",
        metavar="SIZE",
        help="RAM for downloaded pieces, e.g. 512M or 2G (default: %(default)s); "
        "raise it for high-bitrate video or many readers",
    )
    mount.add_argument(
        "--readahead",
        default=f"{DEFAULT_READAHEAD_S:g}s",
        metavar="DURATION",
        help="how much reading, at each reader's measured rate, to fetch ahead of it "
        "(default: %(default)s); raise it for unsteady swarms",
    )
    mount.add_argument(
        "--readahead-min",
        default=f"{DEFAULT_READAHEAD_MIN_BYTES >> 20}M",
        metavar="SIZE",
        help="smallest read-ahead window, used until a reader's rate is known "
        "(default: %(default)s; never fewer than 2 pieces)",
    )
    mount.add_argument(
        "--readahead-max",
        metavar="SIZE",
        help=f"largest read-ahead window per reader (default: {DEFAULT_READAHEAD_MAX_BYTES >> 20}M,"
        " or less if the cache is small: a window gets at most half the RAM store)",
    )
    mount.add_argument(
        "--head-size",
        default=f"{DEFAULT_HEAD_BYTES >> 10}K",
        metavar="SIZE",
        help="bytes at the start of a media file fetched when it is opened (default: %(default)s)",
    )
    mount.add_argument(
        "--tail-size",
        default=f"{DEFAULT_TAIL_BYTES >> 10}K",
        metavar="SIZE",
        help="bytes at the end of a media file fetched when it is opened, where MP4 and MKV "
        "keep their index (default: %(default)s; 0 turns it off)",
    )
    mount.add_argument(
        "--metadata-timeout",
        default=f"{DEFAULT_METADATA_TIMEOUT_S:g}s",
        metavar="DURATION",
        help="how long listing the folder waits for a magnet's metadata before failing with "
        "EIO (default: %(default)s)",
    )
    mount.add_argument(
        "--read-timeout",
        default="0",
        metavar="DURATION",
        help="fail a read with EIO after waiting this long for its pieces (default: 0, "
        "wait as long as it takes, like a slow disk)",
    )
    mount.add_argument(
        "--force",
        action="store_true",
        help="clear a stale mount left at MOUNTPOINT by a torrentfs that was killed",
    )
    mount.add_argument(
        "--allow-other",
        action="store_true",
        help="let other users see the mount (needs user_allow_other in /etc/fuse.conf)",
    )
    storage = mount.add_argument_group("storage")
    storage.add_argument(
        "--storage",
        choices=[mode.value for mode in StorageMode],
        help="memory: nothing is written to disk, fetched data lives in RAM and is forgotten "
        "on exit; disk: fetched data is kept in --cache-dir and a remount resumes "
        f"(default: ${STORAGE_MODE_ENV}, else memory)",
    )
    storage.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="disk storage: where each torrent gets a folder named by its info-hash "
        "(default: $CACHE_DIRECTORY under systemd, else $XDG_CACHE_HOME/torrentfs)",
    )
    storage.add_argument(
        "--disk-limit",
        metavar="SIZE",
        help="disk storage: keep the cache folder under this size by forgetting the oldest "
        "pieces (default: no limit, it grows as files are read)",
    )
    storage.add_argument(
        "--download-all",
        action="store_true",
        help="also fetch the whole torrent in the background, behind what is read; "
        "with --storage disk, to keep it",
    )
    idle = mount.add_argument_group("idle pause")
    idle.add_argument(
        "--idle-timeout",
        metavar="DURATION",
        help="with no reads for this long, stop downloading but keep the peers; 0 turns "
        f"it off (default: {DEFAULT_IDLE_TIMEOUT_S:.0f}s, or off if "
        f"${PAUSE_ON_VIDEO_PAUSE_ENV} is false)",
    )
    idle.add_argument(
        "--idle-disconnect",
        default=f"{DEFAULT_IDLE_DISCONNECT_S:.0f}s",
        metavar="DURATION",
        help="with no reads for this long, pause the torrent and drop every connection; "
        "0 turns it off (default: %(default)s)",
    )
    idle.add_argument(
        "--download-all-while-idle",
        action="store_true",
        help="keep --download-all fetching while idle (default: it waits for reads)",
    )
    network = mount.add_argument_group("network")
    network.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDR:PORT[,…]",
        help="interfaces to accept peers on (default: %(default)s); 127.0.0.1:0 keeps it local",
    )
    network.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also connect to this peer (repeatable)",
    )
    network.add_argument(
        "--tracker",
        action="append",
        default=[],
        metavar="URL",
        help="also announce to this tracker, after the source's own (repeatable; works for "
        "magnets, .torrent files and bare info-hashes alike)",
    )
    network.add_argument("--no-dht", action="store_true", help="do not use the DHT")
    network.add_argument("--no-lsd", action="store_true", help="no local service discovery")
    network.add_argument("--no-upnp", action="store_true", help="no UPnP port mapping")
    network.add_argument("--no-natpmp", action="store_true", help="no NAT-PMP port mapping")
    _add_verbosity(mount)

    demo = commands.add_parser(
        "demo",
        help="seed a sample on loopback, mount it, read it back and verify it",
        description="Offline demonstration: makes a sample (a short video if ffmpeg is "
        "installed), seeds it from a loopback session and reads it through a real mount.",
    )
    _add_verbosity(demo)

    status = commands.add_parser(
        "status",
        help="show what a running mount is doing",
        description="Show a running mount's state, rates, peers, RAM store and open files "
        "(read from the mount itself, as extended attributes).",
    )
    status.add_argument("mountpoint", metavar="MOUNTPOINT", help="where torrentfs is mounted")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    return parser, mount


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    # Later words win, so the command line overrides a config file's level.
    levels = [level.lower() for level in LOG_LEVELS]
    parser.add_argument(
        "--log-level", choices=levels, help="log this level and above (default: info)"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const="debug",
        help="log debugging detail (--log-level debug)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const="warning",
        help="log only warnings and errors (--log-level warning)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed arguments; raises UserError for bad values."""
    cache_bytes = parse_size(args.cache_size)
    if cache_bytes < MIN_CACHE_BYTES:
        raise UserError(
            f"--cache-size {args.cache_size} is too small: use at least {MIN_CACHE_BYTES >> 20}M"
        )
    storage_mode = _storage_mode(args.storage)
    window_limit = store_bytes(cache_bytes, storage_mode) // 2
    if args.readahead_max is None:
        readahead_max = min(DEFAULT_READAHEAD_MAX_BYTES, window_limit)
    else:
        readahead_max = parse_size(args.readahead_max)
        if readahead_max > window_limit:
            raise UserError(
                f"--readahead-max {args.readahead_max} is more than half the RAM store "
                f"({window_limit >> 20} MiB with this --cache-size and --storage): "
                "raise --cache-size or lower --readahead-max"
            )
    stream = StreamSettings(
        readahead_s=parse_duration(args.readahead),
        readahead_min_bytes=parse_size(args.readahead_min),
        readahead_max_bytes=readahead_max,
        head_bytes=parse_size(args.head_size),
        tail_bytes=parse_size(args.tail_size),
    )
    if stream.readahead_min_bytes > stream.readahead_max_bytes:
        raise UserError("--readahead-min must not be larger than --readahead-max")
    return Settings(
        storage=StorageSettings(
            mode=storage_mode,
            cache_dir=args.cache_dir,
            download_all=args.download_all,
            disk_limit_bytes=None if args.disk_limit is None else parse_size(args.disk_limit),
        ),
        cache_bytes=cache_bytes,
        metadata_timeout_s=parse_duration(args.metadata_timeout),
        read_timeout_s=parse_duration(args.read_timeout),
        force=args.force,
        allow_other=args.allow_other,
        network=NetworkSettings(
            listen=args.listen,
            dht=not args.no_dht,
            lsd=not args.no_lsd,
            upnp=not args.no_upnp,
            natpmp=not args.no_natpmp,
            peers=tuple(parse_peer(text) for text in args.peer),
            trackers=tuple(parse_tracker(text) for text in args.tracker),
        ),
        stream=stream,
        idle=IdleSettings(
            timeout_s=_idle_timeout_s(args.idle_timeout),
            disconnect_s=parse_duration(args.idle_disconnect),
            download_all_while_idle=args.download_all_while_idle,
        ),
    )


def _storage_mode(flag: str | None) -> StorageMode:
    """--storage, else $TORRENT_STORAGE_MODE, else memory."""
    if flag is not None:
        return StorageMode(flag)
    from_env = os.environ.get(STORAGE_MODE_ENV)
    if not from_env:
        return StorageMode.MEMORY
    try:
        return StorageMode(from_env.strip().lower())
    except ValueError:
        raise UserError(
            f"{STORAGE_MODE_ENV}={from_env!r} is not a storage mode: use memory or disk"
        ) from None


def _idle_timeout_s(flag: str | None) -> float:
    """--idle-timeout, else off if $TORRENT_PAUSE_ON_VIDEO_PAUSE is false, else the default."""
    if flag is not None:
        return parse_duration(flag)
    from_env = os.environ.get(PAUSE_ON_VIDEO_PAUSE_ENV, "").strip().lower()
    if from_env in ("", "true"):
        return DEFAULT_IDLE_TIMEOUT_S
    if from_env == "false":
        return 0.0
    raise UserError(
        f"{PAUSE_ON_VIDEO_PAUSE_ENV}={os.environ[PAUSE_ON_VIDEO_PAUSE_ENV]!r} "
        "is not a switch: use true or false"
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    try:
        if args.command == "mount":
            # Again, with the --config file's settings under the command line's.
            args = parse_mount_args(words)
        configure_logging(_log_level(args))
        return _run_command(args)
    except UserError as error:
        print(f"torrentfs: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


def _run_command(args: argparse.Namespace) -> int:
    if args.command == "mount":
        from torrentfs.mount import run_mount

        run_mount(parse_source(args.source), Path(args.mountpoint), settings_from_args(args))
        return 0
    if args.command == "status":
        from torrentfs.status import show_status

        return show_status(Path(args.mountpoint), as_json=args.json)
    from torrentfs.demo import run_demo

    return run_demo()


def parse_mount_args(words: Sequence[str]) -> argparse.Namespace:
    """`torrentfs mount …` arguments, with --config's settings under the command line's and
    the environment's; raises UserError for a bad config file or a missing SOURCE/MOUNTPOINT."""
    parser, mount_parser = _build_parsers()
    args = parser.parse_args(words)
    if args.config is not None:
        overridden = frozenset(
            key for key, variable in ENVIRONMENT_OPTIONS.items() if os.environ.get(variable)
        )
        from_file = read_config(args.config, mount_parser, overridden)
        after_command = words.index("mount") + 1
        args = parser.parse_args(
            [*words[:after_command], *from_file.options, *words[after_command:]]
        )
        args.source = args.source or from_file.source
        args.mountpoint = args.mountpoint or from_file.mountpoint
    if args.source is None or args.mountpoint is None:
        raise UserError(
            "mount needs SOURCE and MOUNTPOINT, on the command line or as `source` and "
            "`mountpoint` in the --config file"
        )
    return args


def _log_level(args: argparse.Namespace) -> int:
    level: str = getattr(args, "log_level", None) or "info"
    return logging.getLevelName(level.upper())  # type: ignore[no-any-return]
