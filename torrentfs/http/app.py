"""The HTTP routes: translation from requests to the mount's content, and nothing more.

- `/files/PATH`: GET and HEAD of a file with byte ranges; of a folder, a
  page of links.
- `/dav/PATH`: the same tree over WebDAV, read-only (OPTIONS, PROPFIND
  depth 0 and 1, GET, HEAD; writes get 405).
- `/playlist/PATH`: an M3U of the playable files below a folder.
- `/`: the page; `/api/status`: the status document `torrentfs status --json`
  prints; `/api/add` and `/api/remove`: a library's forms.

Errors map as FUSE errors map to errnos: 404 for what is not in the tree,
416 for an unsatisfiable range, 503 with Retry-After while the metadata is
awaited, 504 when a read waited --read-timeout for its pieces.
"""

import hashlib
import html
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate, parsedate_to_datetime
from importlib import resources
from urllib.parse import quote

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from torrentfs.core.http_ranges import ByteRange, Unsatisfiable, parse_range
from torrentfs.core.playlists import is_playable, m3u
from torrentfs.core.tree import Node
from torrentfs.core.url_paths import path_names
from torrentfs.http import webdav
from torrentfs.http.library_forms import LibraryForms
from torrentfs.http.readers import HttpReader, HttpReaders
from torrentfs.streaming.content import ReadTimeout
from torrentfs.streaming.mount_content import MountContent, Tree, resolve

log = logging.getLogger(__name__)

# Bytes asked of a reader at once: fewer round trips than the kernel's 128 KiB.
CHUNK_BYTES = 1 << 20
RETRY_AFTER_S = 5
FILES_PREFIX = "/files"
DAV_PREFIX = "/dav"
PLAYLIST_PREFIX = "/playlist"
DAV_ALLOW = "OPTIONS, GET, HEAD, PROPFIND"
# What mimetypes does not know, players need.
CONTENT_TYPES = {".mkv": "video/x-matroska", ".m2ts": "video/mp2t", ".flac": "audio/flac"}


class ClientGone(Exception):
    """The client disconnected before the response was sent whole."""


class TreeAnswers:
    """What every route needs: the tree, a node by URL path, a file's headers."""

    def __init__(self, content: MountContent) -> None:
        self.content = content
        self._started_s = time.time()

    def tree(self) -> Tree | None:
        return self.content.tree

    def mtime_s(self) -> float:
        layout = self.content.layout
        if layout is not None and layout.creation_date > 0:
            return float(layout.creation_date)
        return self._started_s

    def file_headers(self, node: Node) -> dict[str, str]:
        assert node.file is not None
        file = node.file
        identity = f"{'/'.join(file.path)}|{file.offset}|{file.size}|{self.mtime_s()}"
        return {
            "accept-ranges": "bytes",
            "etag": '"' + hashlib.sha1(identity.encode()).hexdigest()[:20] + '"',
            "last-modified": formatdate(self.mtime_s(), usegmt=True),
            "content-type": content_type(node.name),
        }


def content_type(name: str) -> str:
    suffix = "." + name.rpartition(".")[2].lower() if "." in name else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def client_key(request: Request) -> tuple[str, str]:
    host = request.client.host if request.client else ""
    return host, request.headers.get("user-agent", "")


def build_app(
    content: MountContent,
    readers: HttpReaders,
    forms: LibraryForms | None,
    guard: Callable[[Scope, Receive, Send], Awaitable[bool]],
    api_routes: list[Route],
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app; `guard` answers a request it refuses (credentials, origin) and says
    whether it did, before anything else looks at it."""
    answers = TreeAnswers(content)

    async def page(request: Request) -> Response:
        text = resources.files("torrentfs.http").joinpath("page.html").read_text()
        return HTMLResponse(text, headers={"cache-control": "no-cache"})

    async def status(request: Request) -> Response:
        return JSONResponse(content.status(), headers={"cache-control": "no-store"})

    async def files(request: Request) -> Response:
        return await _serve_path(request, answers, readers)

    async def dav(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(headers={"dav": "1", "allow": DAV_ALLOW, "ms-author-via": "DAV"})
        if request.method in webdav.WRITE_METHODS:
            return Response(status_code=405, headers={"allow": DAV_ALLOW})
        if request.method == "PROPFIND":
            return _propfind(request, answers)
        return await _serve_path(request, answers, readers)

    async def playlist(request: Request) -> Response:
        return _playlist(request, answers)

    async def add(request: Request) -> Response:
        if forms is None:
            return PlainTextResponse("not a library\n", status_code=404)
        return await forms.add(request)

    async def remove(request: Request) -> Response:
        if forms is None:
            return PlainTextResponse("not a library\n", status_code=404)
        return await forms.remove(request)

    dav_methods = ["OPTIONS", "PROPFIND", "GET", "HEAD", *sorted(webdav.WRITE_METHODS)]
    routes = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/api/status", status, methods=["GET"]),
        Route("/api/add", add, methods=["POST"]),
        Route("/api/remove", remove, methods=["POST"]),
        Route(FILES_PREFIX + "{path:path}", files, methods=["GET", "HEAD"]),
        Route(DAV_PREFIX + "{path:path}", dav, methods=dav_methods),
        Route(PLAYLIST_PREFIX + "{path:path}", playlist, methods=["GET", "HEAD"]),
        *api_routes,
    ]
    app = Starlette(routes=routes)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await guard(scope, receive, send):
            return
        await app(scope, receive, send)

    return guarded


def _path_of(request: Request) -> str:
    # Starlette's path parameter is the decoded path after the prefix.
    path: str = request.path_params.get("path", "")
    return path


async def _serve_path(request: Request, answers: TreeAnswers, readers: HttpReaders) -> Response:
    tree = answers.tree()
    if tree is None:
        return _metadata_awaited()
    node = resolve(tree, _path_of(request))
    if node is None:
        return PlainTextResponse("not found\n", status_code=404)
    if node.is_dir:
        return _folder_page(request, tree, node)
    return _file_response(request, answers, readers, node)


def _metadata_awaited() -> Response:
    return PlainTextResponse(
        "waiting for the torrent's metadata\n",
        status_code=503,
        headers={"retry-after": str(RETRY_AFTER_S)},
    )


def _file_response(
    request: Request, answers: TreeAnswers, readers: HttpReaders, node: Node
) -> Response:
    assert node.file is not None
    size = node.file.size
    headers = answers.file_headers(node)
    wanted: ByteRange | None
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{size}"})
    if wanted is not None and not _range_still_valid(request, headers):
        wanted = None
    if wanted is None:
        start, length, status_code = 0, size, 200
    else:
        start, length, status_code = wanted.start, wanted.length, 206
        headers["content-range"] = wanted.content_range(size)
    headers["content-length"] = str(length)
    if request.method == "HEAD" or length == 0:
        # A HEAD starts nothing: the torrent is not read.
        return Response(status_code=status_code, headers=headers)
    return FileBody(answers.content, readers, client_key(request), node, start, length,
                    status_code, headers)  # fmt: skip


def _range_still_valid(request: Request, headers: dict[str, str]) -> bool:
    """If-Range: the range holds only if the client's validator is this file's."""
    validator = request.headers.get("if-range")
    if validator is None:
        return True
    if validator.startswith(('"', 'W/"')):
        return validator == headers["etag"]
    try:
        return (
            parsedate_to_datetime(validator).timestamp()
            >= parsedate_to_datetime(headers["last-modified"]).timestamp()
        )
    except (TypeError, ValueError):
        return False


class FileBody(Response):
    """A file's bytes from its client's reader, sent as they come; the reader is let go
    at once if the client disconnects."""

    def __init__(
        self,
        content: MountContent,
        readers: HttpReaders,
        client: tuple[str, str],
        node: Node,
        start: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
    ) -> None:
        super().__init__(status_code=status_code, headers=headers)
        self._content = content
        self._readers = readers
        self._client = client
        self._node = node
        self._start = start
        self._length = length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with self._readers.reading(self._client, self._node) as reader:
                with reader.superseding() as request_scope:
                    await self._respond(reader, scope, receive, send)
                if request_scope.cancelled_caught:
                    await self._superseded(scope, receive, send)
                elif self._gone:
                    # Leaving the reader this way closes it at once: nobody reads on.
                    raise ClientGone
        except ClientGone:
            log.debug("%s went away while reading %s", self._client[0], self._node.name)

    async def _respond(
        self, reader: HttpReader, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            first = await self._read(reader, self._start)
        except ReadTimeout:
            await PlainTextResponse("timed out waiting for pieces\n", 504)(scope, receive, send)
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._cancel_when_gone, receive, nursery.cancel_scope)
            await send(
                {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}
            )  # fmt: skip
            self._started = True
            await self._send_from(send, reader, first)
            nursery.cancel_scope.cancel()

    async def _superseded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A newer request of the same client for the same file took over its reader: a
        player that seeks opens the new range before it drops the old one, and reads
        served at both places would move the read-ahead window back and forth."""
        log.debug("%s: a newer request took over reading %s", self._client[0], self._node.name)
        if not self._started:
            await PlainTextResponse("a newer request took over\n", 503)(scope, receive, send)
        # A body begun is left unfinished: the server closes the connection.

    _gone = False
    _started = False

    async def _cancel_when_gone(self, receive: Receive, scope: trio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        scope.cancel()

    async def _read(self, reader: HttpReader, offset: int) -> bytes:
        end = self._start + self._length
        return await self._content.read(reader.handle, offset, min(CHUNK_BYTES, end - offset))

    async def _send_from(self, send: Send, reader: HttpReader, first: bytes) -> None:
        offset, data = self._start, first
        end = self._start + self._length
        while True:
            offset += len(data)
            more = offset < end and bool(data)
            await send({"type": "http.response.body", "body": data, "more_body": more})
            if not more:
                return
            data = await self._read(reader, offset)


def _folder_page(request: Request, tree: Tree, node: Node) -> Response:
    base = request.url.path if request.url.path.endswith("/") else request.url.path + "/"
    items = []
    for child in tree.children(node.inode):
        slash = "/" if child.is_dir else ""
        href = base + quote(child.name) + slash
        items.append(f'<li><a href="{html.escape(href)}">{html.escape(child.name)}{slash}</a>')
    title = html.escape(request.url.path)
    body = f"<!doctype html><title>{title}</title><h1>{title}</h1><ul>{''.join(items)}</ul>"
    return HTMLResponse(body)


def _propfind(request: Request, answers: TreeAnswers) -> Response:
    tree = answers.tree()
    if tree is None:
        return _metadata_awaited()
    path = _path_of(request)
    node = resolve(tree, path)
    if node is None:
        return PlainTextResponse("not found\n", status_code=404)
    depth = request.headers.get("depth", "infinity").strip().lower()
    # Below a file there is nothing: any depth is depth 0.
    if node.is_dir and depth not in webdav.DEPTHS:
        return Response(webdav.finite_depth_required(), 403, media_type="application/xml")
    href = DAV_PREFIX + "/" + "/".join(path_names(path) or [])
    entries = [_dav_entry(answers, node, href)]
    if depth == "1" and node.is_dir:
        for child in tree.children(node.inode):
            entries.append(_dav_entry(answers, child, f"{href.rstrip('/')}/{child.name}"))
    return Response(webdav.multistatus(entries), 207, media_type='application/xml; charset="utf-8"')


def _dav_entry(answers: TreeAnswers, node: Node, href: str) -> webdav.Entry:
    headers = answers.file_headers(node) if node.file is not None else {}
    return webdav.Entry(
        href_path=href,
        name=node.name,
        is_dir=node.is_dir,
        size=node.file.size if node.file is not None else 0,
        mtime_s=answers.mtime_s(),
        etag=headers.get("etag", ""),
        content_type=headers.get("content-type", ""),
    )


def _playlist(request: Request, answers: TreeAnswers) -> Response:
    tree = answers.tree()
    if tree is None:
        return _metadata_awaited()
    path = _path_of(request)
    node = resolve(tree, path.removesuffix(".m3u"))
    if node is None or not node.is_dir:
        return PlainTextResponse("not found\n", status_code=404)
    base = str(request.base_url).rstrip("/") + FILES_PREFIX
    names = path_names(path.removesuffix(".m3u")) or []
    entries = []
    for relative, child in _playable_below(tree, node, names):
        entries.append((child.name, base + "/" + "/".join(quote(part) for part in relative)))
    return Response(m3u(entries), media_type="audio/x-mpegurl")


def _playable_below(tree: Tree, node: Node, prefix: list[str]) -> list[tuple[list[str], Node]]:
    """Playable files below `node`, depth first in name order (episodes in order)."""
    found = []
    for child in tree.children(node.inode):
        if child.is_dir:
            found.extend(_playable_below(tree, child, [*prefix, child.name]))
        elif is_playable(child.name):
            found.append(([*prefix, child.name], child))
    return found
