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
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from importlib import resources
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from torrentfs.core.media_types import content_type
from torrentfs.core.playlists import is_playable, m3u
from torrentfs.core.tree import Node
from torrentfs.core.upnp_device import DLNA_PREFIX
from torrentfs.core.url_paths import path_names
from torrentfs.http import webdav
from torrentfs.http.file_response import file_response
from torrentfs.http.library_forms import LibraryForms
from torrentfs.http.readers import HttpReaders
from torrentfs.streaming.mount_content import MountContent, Tree, resolve

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
FILES_PREFIX = "/files"
DAV_PREFIX = "/dav"
PLAYLIST_PREFIX = "/playlist"
DAV_ALLOW = "OPTIONS, GET, HEAD, PROPFIND"


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


def build_app(
    answers: TreeAnswers,
    readers: HttpReaders,
    forms: LibraryForms | None,
    guard: Callable[[Scope, Receive, Send], Awaitable[bool]],
    api_routes: list[Route],
    open_routes: list[Route],
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app; `guard` answers a request it refuses (credentials, origin) and says
    whether it did, before anything else looks at it. `open_routes` (the DLNA server's,
    under /dlna/) are not guarded: TVs give no password."""
    content = answers.content

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
    open_app = Starlette(routes=open_routes) if open_routes else None

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if open_app is not None and scope["type"] == "http" and _is_open(scope["path"]):
            await open_app(scope, receive, send)
            return
        if scope["type"] == "http" and await guard(scope, receive, send):
            return
        await app(scope, receive, send)

    return guarded


def _is_open(path: str) -> bool:
    return path.startswith(DLNA_PREFIX + "/")


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
    return file_response(request, answers.content, readers, node, answers.file_headers(node))


def _metadata_awaited() -> Response:
    return PlainTextResponse(
        "waiting for the torrent's metadata\n",
        status_code=503,
        headers={"retry-after": str(RETRY_AFTER_S)},
    )


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
