"""The command line: `torrentfs mount`, `status`, and a library's `add` and `remove`.

Parses arguments into `Settings`, runs the subcommand, and turns a UserError
into one line on stderr and exit code 2.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from torrentfs.arguments import ENVIRONMENT_OPTIONS, build_parser, build_parsers
from torrentfs.core.config import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_READAHEAD_MAX_BYTES,
    MIN_CACHE_BYTES,
    PAUSE_ON_VIDEO_PAUSE_ENV,
    STORAGE_MODE_ENV,
    HttpSettings,
    IdleSettings,
    NetworkSettings,
    Settings,
    StorageMode,
    StorageSettings,
    StreamSettings,
    readahead_limit,
)
from torrentfs.core.config_file import read_config
from torrentfs.core.errors import EXIT_USER_ERROR, UserError
from torrentfs.core.http_bind import is_loopback_bind, parse_http_bind
from torrentfs.core.source import parse_peer, parse_source, parse_tracker
from torrentfs.core.units import parse_duration, parse_size
from torrentfs.logs import configure_logging
from torrentfs.streaming.mount_content import Face

if TYPE_CHECKING:
    from torrentfs.fuse.mount import BuildRuntime

log = logging.getLogger("torrentfs")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed arguments; raises UserError for bad values."""
    cache_bytes = parse_size(args.cache_size)
    if cache_bytes < MIN_CACHE_BYTES:
        raise UserError(
            f"--cache-size {args.cache_size} is too small: use at least {MIN_CACHE_BYTES >> 20}M"
        )
    storage_mode = _storage_mode(args.storage)
    window_limit = readahead_limit(cache_bytes, storage_mode)
    if args.readahead_max is None:
        readahead_max = min(DEFAULT_READAHEAD_MAX_BYTES, window_limit)
    else:
        readahead_max = parse_size(args.readahead_max)
        if readahead_max > window_limit:
            raise UserError(
                f"--readahead-max {args.readahead_max} is more than the cache allows "
                f"({window_limit >> 20} MiB with this --cache-size and --storage: a quarter of "
                "it in memory mode, half on disk): "
                "raise --cache-size or lower --readahead-max"
            )
    stream = StreamSettings(
        readahead_s=parse_duration(args.readahead),
        readahead_min_bytes=parse_size(args.readahead_min),
        readahead_max_bytes=readahead_max,
        head_bytes=parse_size(args.head_size),
        tail_bytes=parse_size(args.tail_size),
        preload_head=not args.no_preload,
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
        max_active_torrents=_at_least_one(args.max_active, "--max-active"),
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
        http=_http_settings(args),
        symlink_dir=args.symlink_dir,
    )


def _runtime_builder(source_text: str, settings: Settings) -> "BuildRuntime":
    """What `mount` serves: a library for a folder, else one torrent. Raises UserError for
    a bad source, before the mountpoint is looked at."""
    from torrentfs import runtime

    if Path(source_text).is_dir():
        watch_folder = Path(source_text)
        return lambda mountpoint: runtime.library(watch_folder, mountpoint, settings)
    source = parse_source(source_text)
    if not source.has_metadata:
        runtime.metadata_sources(source, settings.network)
    return lambda _mountpoint: runtime.single_torrent(source, settings)


def _http_face(settings: Settings) -> Face | None:
    """The HTTP server as a face of the mount, if asked for (only then is it imported)."""
    if settings.http.bind is None:
        return None
    from torrentfs.engine.storage import disk_cache_root
    from torrentfs.http.server import http_face

    # The DLNA server's identity is kept with the cache, as systemd's CacheDirectory is kept.
    return http_face(settings.http, settings.storage.cache_dir or disk_cache_root())


def _http_settings(args: argparse.Namespace) -> HttpSettings:
    """--http and its credentials; raises UserError for a bad address, or another address
    than loopback without a password."""
    password = args.http_password
    if args.http_password_file is not None:
        try:
            lines = Path(args.http_password_file).read_text().splitlines()
        except OSError as error:
            raise UserError(
                f"cannot read --http-password-file {args.http_password_file}: {error.strerror}"
            ) from None
        password = lines[0] if lines else ""
    timeout_s = parse_duration(args.http_timeout)
    if timeout_s <= 0:
        raise UserError("--http-timeout must be more than 0")
    bind = None
    if args.http is not None:
        bind = parse_http_bind(args.http)
        if password is not None and not password:
            raise UserError("the HTTP password is empty")
        if password is None and not is_loopback_bind(bind):
            raise UserError(
                f"--http {args.http} listens beyond this machine: give --http-password or "
                "--http-password-file (or listen on 127.0.0.1)"
            )
    if args.dlna and bind is None:
        raise UserError("--dlna needs --http: its port serves the TVs")
    if args.dlna_name is not None and not args.dlna:
        raise UserError("--dlna-name is the name of the DLNA server: give --dlna too")
    return HttpSettings(
        bind=bind,
        dlna=args.dlna,
        dlna_name=args.dlna_name,
        user=args.http_user,
        password=password,
        idle_connection_s=timeout_s,
        ban_s=parse_duration(args.http_ban),
        loopback_open=args.http_open_on_loopback,
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


def _at_least_one(value: int, option: str) -> int:
    if value < 1:
        raise UserError(f"{option} must be at least 1, not {value}")
    return value


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
        from torrentfs.fuse.mount import run_mount

        settings = settings_from_args(args)
        run_mount(_runtime_builder(args.source, settings), Path(args.mountpoint), settings,
                  _http_face(settings))  # fmt: skip
        return 0
    if args.command in ("add", "remove"):
        from torrentfs import library_commands

        if args.command == "add":
            return library_commands.add(Path(args.mountpoint), args.sources, args.folder)
        return library_commands.remove(Path(args.mountpoint), args.name)
    if args.command == "status":
        from torrentfs.status import show_status

        return show_status(Path(args.mountpoint), args.json, args.every_torrent)
    raise AssertionError(f"unknown command {args.command}")


def parse_mount_args(words: Sequence[str]) -> argparse.Namespace:
    """`torrentfs mount …` arguments, with --config's settings under the command line's and
    the environment's; raises UserError for a bad config file or a missing SOURCE/MOUNTPOINT."""
    parser, mount_parser = build_parsers()
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
