"""The `torrentfs` command line's options, and the `Settings` they make.

Pure argument handling: argparse and the core's settings, no I/O.
"""

import argparse
from pathlib import Path

from torrentfs import __version__
from torrentfs.arguments_http import add_http_arguments
from torrentfs.core.config import (
    DEFAULT_CACHE_BYTES,
    DEFAULT_HEAD_BYTES,
    DEFAULT_IDLE_DISCONNECT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_LISTEN,
    DEFAULT_MAX_ACTIVE_TORRENTS,
    DEFAULT_METADATA_TIMEOUT_S,
    DEFAULT_READAHEAD_MAX_BYTES,
    DEFAULT_READAHEAD_MIN_BYTES,
    DEFAULT_READAHEAD_S,
    DEFAULT_TAIL_BYTES,
    PAUSE_ON_VIDEO_PAUSE_ENV,
    STORAGE_MODE_ENV,
    StorageMode,
)
from torrentfs.logs import LOG_LEVELS

# Options whose environment variable, when set, wins over a config file.
ENVIRONMENT_OPTIONS = {"storage": STORAGE_MODE_ENV, "idle-timeout": PAUSE_ON_VIDEO_PAUSE_ENV}


def build_parser() -> argparse.ArgumentParser:
    return build_parsers()[0]


def build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The whole command line, and its `mount` subcommand (whose options config files hold)."""
    parser = argparse.ArgumentParser(
        prog="torrentfs",
        description="Mount a torrent as a read-only folder whose files stream as they are read.",
    )
    parser.add_argument("--version", action="version", version=f"torrentfs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    mount = commands.add_parser(
        "mount",
        help="mount a torrent, or a folder of them, and serve it until unmounted",
        description="Mount SOURCE at MOUNTPOINT in the foreground until `fusermount3 -u "
        "MOUNTPOINT`, Ctrl-C or SIGTERM. A folder as SOURCE is a library: each .torrent "
        "or .magnet file in it (added or removed at any time) is a folder of the mount.",
    )
    mount.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="magnet link, .torrent file, info-hash, or a folder of .torrent and .magnet "
        "files (or `source` in --config)",
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
        "--no-preload",
        action="store_true",
        help="a single torrent: fetch nothing before the first read (default: the first "
        "--readahead-min of its largest file comes with the metadata, which keeps seeders "
        "that choke a peer turning 'not interested' serving; a library never preloads)",
    )
    mount.add_argument(
        "--metadata-timeout",
        default=f"{DEFAULT_METADATA_TIMEOUT_S:g}s",
        metavar="DURATION",
        help="how long listing the folder waits for a magnet's metadata before failing with "
        "EIO (default: %(default)s)",
    )
    mount.add_argument(
        "--max-active",
        type=int,
        default=DEFAULT_MAX_ACTIVE_TORRENTS,
        metavar="N",
        help="a library: at most N torrents in the swarm at once; opening a file of another "
        "sends the one read longest ago (with no file open) out first (default: %(default)s)",
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
        help="clear a stale mount another FUSE file system left at MOUNTPOINT (one left by "
        "a killed torrentfs is cleared without it)",
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
    add_http_arguments(mount)
    _add_verbosity(mount)

    status = commands.add_parser(
        "status",
        help="show what a running mount is doing",
        description="Show a running mount's state, rates, peers, RAM store and open files "
        "(read from the mount itself, from a hidden file at its root). For a library: a line "
        "per torrent in the swarm, the others counted by state.",
    )
    status.add_argument("mountpoint", metavar="MOUNTPOINT", help="where torrentfs is mounted")
    status.add_argument(
        "--json", action="store_true", help="print the whole status as JSON (every torrent)"
    )
    status.add_argument(
        "--all",
        action="store_true",
        dest="every_torrent",
        help="a library: a line for every torrent, not only those in the swarm",
    )

    add = commands.add_parser(
        "add",
        help="add torrents to a running library",
        description="Put each SOURCE in the library's watch folder and print the folder the "
        "mount shows it as.",
    )
    add.add_argument("mountpoint", metavar="MOUNTPOINT", help="where the library is mounted")
    add.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="a .torrent file, magnet link or info-hash"
    )
    add.add_argument(
        "--folder",
        default="",
        metavar="SUBFOLDER",
        help="put it in this subfolder of the watch folder (made if new; 'tv' or "
        "'tv/Show'), which the mount shows as a folder; default: the top",
    )
    remove = commands.add_parser(
        "remove",
        help="remove a torrent from a running library",
        description="Delete the watch-folder files of the torrent shown as NAME (its folder's "
        "path in the mount, or its info-hash); files open in it read on until closed.",
    )
    remove.add_argument("mountpoint", metavar="MOUNTPOINT", help="where the library is mounted")
    remove.add_argument("name", metavar="NAME-OR-HASH", help="its folder name or info-hash")
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
