"""The HTTP server of a mount: Hypercorn on the mount's own trio loop, living and dying
with it."""

import logging
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from torrentfs.core.config import HttpSettings
from torrentfs.http.app import TreeAnswers, build_app
from torrentfs.http.dlna import DlnaServer, default_name, server_identity
from torrentfs.http.guard import Guard
from torrentfs.http.library_forms import LibraryForms
from torrentfs.http.qbittorrent import qbittorrent_routes
from torrentfs.http.qbittorrent_sessions import ApiSessions
from torrentfs.http.readers import HttpReaders
from torrentfs.streaming.mount_content import Face, MountPlaces

log = logging.getLogger(__name__)


def http_face(settings: HttpSettings, state_dir: Path) -> Face:
    """The HTTP server as a face of a mount (`fuse/` runs it beside the FUSE one);
    `state_dir` keeps what must outlive a restart (the DLNA server's identity)."""

    async def run(places: MountPlaces) -> None:
        await serve_http(places, settings, state_dir)

    return run


def _close_connections_at_eof() -> None:
    """Have Hypercorn let go of a connection as soon as its client has hung up.

    Hypercorn 0.18's trio worker keeps a connection's idle timer running after its read
    loop has seen the client hang up, and the connection (and its descriptor) lives until
    the timer ends: 200 idle connections closed by their clients held 200 descriptors for
    the whole keep-alive time (30 s). Stopping the timer once reading is over ends the
    connection at once; nothing else changes.
    """
    read_data = TCPServer._read_data

    async def read_then_stop_idle_timer(self: TCPServer) -> None:
        try:
            await read_data(self)
        finally:
            await self.idle_task.stop()

    TCPServer._read_data = read_then_stop_idle_timer  # type: ignore[method-assign]


_close_connections_at_eof()


def hypercorn_config(settings: HttpSettings) -> Config:
    assert settings.bind is not None
    config = Config()
    config.bind = [settings.bind]
    # Connections that send nothing are closed: at the start, in the middle of a request's
    # headers, or between requests. Many such must not keep others from being served.
    # No read timeout: a client sends nothing while a response streams to it, and one
    # cut every response at that (a movie over one connection stopped after 30 s). A
    # client that stops taking a response's bytes is a paused player and keeps its
    # connection, as a paused player keeps its file open.
    config.keep_alive_timeout = settings.idle_connection_s
    config.read_timeout = None
    config.accesslog = None
    config.errorlog = logging.getLogger("torrentfs.http.hypercorn")
    config.graceful_timeout = 1.0
    return config


async def serve_http(places: MountPlaces, settings: HttpSettings, state_dir: Path) -> None:
    """Serve until cancelled; raises OSError if the address cannot be bound."""
    content = places.content
    answers = TreeAnswers(content)
    readers = HttpReaders(content, settings.reader_linger_s)
    dlna = await _dlna(settings, answers, readers, state_dir) if settings.dlna else None
    watch_folder = places.watch_folder
    forms = LibraryForms(watch_folder, content) if watch_folder is not None else None
    sessions = ApiSessions(settings.user, settings.password, settings.ban_s, settings.loopback_open)
    # The qBittorrent API serves a library: a single torrent takes no downloads.
    api_routes = qbittorrent_routes(places, sessions) if watch_folder is not None else []
    guard = Guard(settings.user, settings.password, sessions.valid, sessions.loopback_open)
    open_routes = dlna.routes() if dlna is not None else []
    app = build_app(answers, readers, forms, guard, api_routes, open_routes)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(readers.run)
            if dlna is not None:
                nursery.start_soon(dlna.run)
            # Our own shutdown: Hypercorn's would install signal handlers over the mount's.
            await serve(app, hypercorn_config(settings), shutdown_trigger=trio.sleep_forever)  # type: ignore[arg-type]
    finally:
        readers.close()


async def _dlna(
    settings: HttpSettings, answers: TreeAnswers, readers: HttpReaders, state_dir: Path
) -> DlnaServer:
    assert settings.bind is not None
    host, _, port = settings.bind.rpartition(":")
    # A file read (and written the first time): not on the loop that answers FUSE.
    identity = await trio.to_thread.run_sync(server_identity, state_dir)
    name = settings.dlna_name or default_name()
    log.info("DLNA: serving as %r on port %s", name, port)
    return DlnaServer(answers, readers, identity, name, host.strip("[]"), int(port))
