"""The `torrentfs mount` options of the HTTP face, and of the DLNA server on its port."""

import argparse
from pathlib import Path

from torrentfs.core.config import DEFAULT_HTTP_USER


def add_http_arguments(mount: argparse.ArgumentParser) -> None:
    http = mount.add_argument_group("HTTP (streaming, WebDAV, playlists, a page, DLNA)")
    http.add_argument(
        "--http",
        metavar="[ADDR:]PORT",
        help="also serve the mount over HTTP from this process: files with ranges at /files/, "
        "WebDAV at /dav/, M3U playlists at /playlist/, a page at /. A port alone listens on "
        "127.0.0.1; any other address needs --http-password (default: no HTTP)",
    )
    http.add_argument(
        "--http-user",
        default=DEFAULT_HTTP_USER,
        metavar="NAME",
        help="the user name HTTP clients give with the password (default: %(default)s)",
    )
    http.add_argument(
        "--http-password",
        metavar="PASSWORD",
        help="the password HTTP clients must give (HTTP Basic); seen by other users in the "
        "process list, so prefer --http-password-file",
    )
    http.add_argument(
        "--symlink-dir",
        type=Path,
        metavar="DIR",
        help="a library: mirror every torrent's files here as symlinks into the mount "
        "(DIR/CATEGORY/TORRENT/FILE), for Sonarr and Radarr to import by moving them; the "
        "qBittorrent API reports paths there (default: none, paths in the mount)",
    )
    http.add_argument(
        "--http-ban",
        default="1h",
        metavar="DURATION",
        help="after 5 failed logins to the qBittorrent API, refuse that address this long "
        "(default: %(default)s, as qBittorrent)",
    )
    http.add_argument(
        "--http-open-on-loopback",
        action="store_true",
        help="clients on this machine (loopback addresses) need no password, as "
        "qBittorrent's bypass for localhost; a reverse proxy on this machine makes every "
        "client local, so do not use both",
    )
    http.add_argument(
        "--http-timeout",
        default="30s",
        metavar="DURATION",
        help="close an HTTP connection that sends nothing this long (default: %(default)s)",
    )
    http.add_argument(
        "--http-password-file",
        metavar="FILE",
        help="read the HTTP password from the first line of FILE (for the systemd unit)",
    )
    http.add_argument(
        "--dlna",
        action="store_true",
        help="also be a DLNA/UPnP media server on --http's port, announced by SSDP where "
        "--http listens, for TVs and other players that find servers on the LAN; TVs give "
        "no password, so they list and play the files without one (default: off)",
    )
    http.add_argument(
        "--dlna-name",
        metavar="NAME",
        help="the name TVs show for this server (default: torrentfs on HOSTNAME)",
    )
