"""The part of qBittorrent's Web API v2 that Sonarr, Radarr, Lidarr, Readarr and Prowlarr
use, over a library: a download client whose downloads are complete as soon as their
metadata is known, and download nothing.

Categories are subfolders of the watch folder (`MOUNTPOINT/CATEGORY/TORRENT/`); an add
writes the torrent's file there, exactly as `torrentfs add --folder CATEGORY` does, so it
survives a restart. Paths reported are in the symlink mirror (--symlink-dir) when there
is one, else in the mount: `save_path` is the category's folder, `content_path` the
torrent's, as the *arr require. The answers' fields and types follow what Sonarr's
`QBittorrentProxyV2` and `QBittorrent` read (see docs/usage.md, "Sonarr and Radarr").
"""

import time
from pathlib import Path
from typing import Any

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from torrentfs.core.errors import UserError
from torrentfs.core.status_schema import LibraryTorrentStatus
from torrentfs.core.url_paths import path_names
from torrentfs.core.watch_folder import move_files, remove_files
from torrentfs.http.guard import SESSION_COOKIE
from torrentfs.http.qbittorrent_sessions import ApiSessions
from torrentfs.http.qbittorrent_torrents import (
    add_all,
    category_of,
    describe,
    files_below,
    subfolders,
)
from torrentfs.http.torrent_fetch import FetchFailed
from torrentfs.streaming.mount_content import (
    LibraryContent,
    MountPlaces,
    resolve,
)

API = "/api/v2"
APP_VERSION = "v4.3.9"
# qBittorrent 4.3's API: content_path is read (2.6.1 and later), and "paused"/"pausedUP"
# are its words (2.11 renamed them "stopped").
WEBAPI_VERSION = "2.8.3"
OK, FAILS = "Ok.", "Fails."
MAX_FORM_FILES = 64
MAX_FORM_FIELDS = 64


def qbittorrent_routes(places: MountPlaces, sessions: ApiSessions) -> list[Route]:
    api = _Api(places, sessions)
    # qBittorrent 4 takes a read as GET or POST (clients such as qbittorrent-api post every
    # call), an action as POST only.
    get, post = ["GET", "POST"], ["POST"]
    table: list[tuple[str, Any, list[str]]] = [
        ("/auth/login", api.login, post),
        ("/auth/logout", api.logout, post),
        ("/app/version", api.version, get),
        ("/app/webapiVersion", api.webapi_version, get),
        ("/app/preferences", api.preferences, get),
        ("/torrents/info", api.info, get),
        ("/torrents/properties", api.properties, get),
        ("/torrents/files", api.files, get),
        ("/torrents/add", api.add, post),
        ("/torrents/delete", api.delete, post),
        ("/torrents/categories", api.categories, get),
        ("/torrents/createCategory", api.create_category, post),
        ("/torrents/setCategory", api.set_category, post),
        ("/torrents/addTags", api.accept, post),
        ("/torrents/setShareLimits", api.accept, post),
        ("/torrents/setForceStart", api.accept, post),
        ("/torrents/topPrio", api.no_queueing, post),
        ("/torrents/bottomPrio", api.no_queueing, post),
    ]
    return [Route(API + path, handler, methods=methods) for path, handler, methods in table]


class _Api:
    def __init__(self, places: MountPlaces, sessions: ApiSessions) -> None:
        assert places.watch_folder is not None, "the API serves a library"
        assert isinstance(places.content, LibraryContent)
        self._content = places.content
        self._watch = places.watch_folder
        # Where the *arr are told files are: the symlink mirror, else the mount.
        self._base = places.symlink_dir or places.mountpoint
        self._sessions = sessions
        self._started_s = int(time.time())

    # Authentication

    async def login(self, request: Request) -> Response:
        address = request.client.host if request.client else ""
        if self._sessions.bans.banned(address, time.monotonic()):
            text = "Your IP address has been banned after too many failed attempts to log in."
            return PlainTextResponse(text, status_code=403)
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            user, password = str(form.get("username", "")), str(form.get("password", ""))
        sid = self._sessions.login(address, user, password)
        if sid is None:
            return PlainTextResponse(FAILS)
        answer = PlainTextResponse(OK)
        answer.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict")
        return answer

    async def logout(self, request: Request) -> Response:
        self._sessions.logout(request.cookies.get(SESSION_COOKIE))
        return PlainTextResponse("")

    # The application

    async def version(self, request: Request) -> Response:
        return PlainTextResponse(APP_VERSION)

    async def webapi_version(self, request: Request) -> Response:
        return PlainTextResponse(WEBAPI_VERSION)

    async def preferences(self, request: Request) -> Response:
        return JSONResponse(
            {
                "save_path": str(self._base),
                "temp_path_enabled": False,
                "max_ratio_enabled": False,
                "max_ratio": -1,
                "max_ratio_act": 0,
                "max_seeding_time_enabled": False,
                "max_seeding_time": -1,
                "queueing_enabled": False,
                # Sonarr reads a magnet's metaDL as hopeless without the DHT; torrentfs
                # also asks trackers and the magnet's peers, so this is never the case.
                "dht": True,
                "create_subfolder_enabled": True,
                "torrent_content_layout": "Original",
                "bypass_local_auth": self._sessions.loopback_open,
            }
        )

    # Torrents

    async def info(self, request: Request) -> Response:
        fields = await _fields(request)
        category = fields.get("category")
        hashes = _hashes(fields.get("hashes"))
        answer = []
        for torrent in self._torrents(hashes):
            if category is None or category_of(torrent) == category:
                answer.append(describe(torrent, self._content.tree, self._base, self._started_s))
        return JSONResponse(answer)

    async def properties(self, request: Request) -> Response:
        torrent = self._one((await _fields(request)).get("hash"))
        if torrent is None:
            return PlainTextResponse("Not Found", status_code=404)
        described = describe(torrent, self._content.tree, self._base, self._started_s)
        mount: dict[str, Any] = dict(torrent["status"] or {})
        return JSONResponse(
            {
                "save_path": described["save_path"],
                "creation_date": self._started_s,
                "piece_size": mount.get("piece_length", -1),
                "comment": "",
                "total_size": described["size"],
                "addition_date": self._started_s,
                "completion_date": self._started_s if described["progress"] == 1 else -1,
                "created_by": "",
                "dl_speed": described["dlspeed"],
                "up_speed": described["upspeed"],
                "nb_connections": described["num_seeds"],
                "seeding_time": 0,
                "share_ratio": 0,
                "total_downloaded": 0,
                "total_uploaded": 0,
                "eta": described["eta"],
                "pieces_have": 0,
                "pieces_num": mount.get("num_pieces", -1),
            }
        )

    async def files(self, request: Request) -> Response:
        torrent = self._one((await _fields(request)).get("hash"))
        if torrent is None:
            return PlainTextResponse("Not Found", status_code=404)
        tree = self._content.tree
        folder = resolve(tree, torrent["folder"]) if tree is not None else None
        top = torrent["folder"].rpartition("/")[2]
        answer = []
        if tree is not None and folder is not None:
            for index, (relative, node) in enumerate(files_below(tree, folder, [top])):
                assert node.file is not None
                answer.append(
                    {"index": index, "name": "/".join(relative), "size": node.file.size,
                     "progress": 1, "priority": 1, "is_seed": True, "availability": 1,
                     "piece_range": [0, 0]}
                )  # fmt: skip
        return JSONResponse(answer)

    async def add(self, request: Request) -> Response:
        async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as form:
            try:
                folder = self._category_folder(str(form.get("category", "")))
                added = await add_all(form, folder)
            except (UserError, FetchFailed, OSError):
                return PlainTextResponse(FAILS)
        return PlainTextResponse(OK if added else FAILS)

    async def delete(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            hashes = _hashes(str(form.get("hashes", "")))
        files = [file for torrent in self._torrents(hashes) for file in torrent["files"]]
        await trio.to_thread.run_sync(remove_files, self._watch, files)
        return PlainTextResponse("")

    async def categories(self, request: Request) -> Response:
        return JSONResponse(
            {
                name: {"name": name, "savePath": str(self._base / name)}
                for name in await trio.to_thread.run_sync(subfolders, self._watch)
            }
        )

    async def create_category(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            name = str(form.get("category", ""))
        try:
            if not name:
                raise UserError("no category")
            folder = self._category_folder(name)
            await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        except (UserError, OSError):
            return PlainTextResponse("Invalid category name", status_code=400)
        return PlainTextResponse("")

    async def set_category(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            hashes = _hashes(str(form.get("hashes", "")))
            category = str(form.get("category", ""))
        try:
            folder = self._category_folder(category)
        except UserError:
            return PlainTextResponse("Incorrect category name", status_code=409)
        if category and not await trio.to_thread.run_sync(folder.is_dir):
            return PlainTextResponse("Incorrect category name", status_code=409)
        files = [file for torrent in self._torrents(hashes) for file in torrent["files"]]
        await trio.to_thread.run_sync(move_files, self._watch, files, folder)
        return PlainTextResponse("")

    async def accept(self, request: Request) -> Response:
        # Tags, share limits and force-start change nothing here: nothing is seeded or
        # queued. Answered as qBittorrent does, so the *arr go on.
        return PlainTextResponse("")

    async def no_queueing(self, request: Request) -> Response:
        return PlainTextResponse("Torrent queueing must be enabled", status_code=409)

    # Helpers

    def _torrents(self, hashes: set[str] | None = None) -> list[LibraryTorrentStatus]:
        """The torrents of `hashes` (each looked up, not the library walked), or all."""
        if hashes is None:
            return self._content.status()["torrents"]
        found = (self._content.torrent_status(info_hash) for info_hash in sorted(hashes))
        return [torrent for torrent in found if torrent is not None]

    def _one(self, text: str | None) -> LibraryTorrentStatus | None:
        return self._content.torrent_status((text or "").strip().lower())

    def _category_folder(self, category: str) -> Path:
        names = path_names(category.strip())
        if names is None or any(name.startswith(".") for name in names):
            raise UserError(f"{category!r} is not a category name")
        return self._watch.joinpath(*names)


async def _fields(request: Request) -> dict[str, str]:
    """A read's parameters: the query's, and a posted form's."""
    fields = dict(request.query_params)
    if request.method == "POST":
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            fields.update((key, value) for key, value in form.items() if isinstance(value, str))
    return fields


def _hashes(text: str | None) -> set[str] | None:
    """qBittorrent's `hashes`: "h1|h2", or "all" (None: every torrent)."""
    if text is None or text.strip().lower() == "all":
        return None
    return {part.strip().lower() for part in text.split("|") if part.strip()}
