"""The HTTP server of a mount: Hypercorn on the mount's own trio loop, living and dying
with it."""

import logging
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from torrentfs.core.config import HttpSettings
from torrentfs.http.app import build_app
from torrentfs.http.guard import Guard
from torrentfs.http.library_forms import LibraryForms
from torrentfs.http.readers import HttpReaders
from torrentfs.streaming.mount_content import Face, MountContent

log = logging.getLogger(__name__)


def http_face(settings: HttpSettings) -> Face:
    """The HTTP server as a face of a mount (`fuse/` runs it beside the FUSE one)."""

    async def run(content: MountContent, watch_folder: Path | None) -> None:
        await serve_http(content, watch_folder, settings)

    return run


def hypercorn_config(settings: HttpSettings) -> Config:
    assert settings.bind is not None
    config = Config()
    config.bind = [settings.bind]
    # Connections that send nothing are closed: at the start, between requests, or
    # stalled in the middle of one. Many such must not keep others from being served.
    config.keep_alive_timeout = settings.idle_connection_s
    config.read_timeout = int(settings.idle_connection_s)
    config.accesslog = None
    config.errorlog = logging.getLogger("torrentfs.http.hypercorn")
    config.graceful_timeout = 1.0
    return config


async def serve_http(
    content: MountContent, watch_folder: Path | None, settings: HttpSettings
) -> None:
    """Serve until cancelled; raises OSError if the address cannot be bound."""
    readers = HttpReaders(content, settings.reader_linger_s)
    forms = LibraryForms(watch_folder, content) if watch_folder is not None else None
    app = build_app(content, readers, forms, Guard(settings.user, settings.password))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(readers.run)
            # Our own shutdown: Hypercorn's would install signal handlers over the mount's.
            await serve(app, hypercorn_config(settings), shutdown_trigger=trio.sleep_forever)  # type: ignore[arg-type]
    finally:
        readers.close()
