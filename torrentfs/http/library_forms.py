"""The page's forms on a library: add a magnet or a `.torrent`, remove a torrent. They do
what `torrentfs add` and `remove` do: write or delete files in the watch folder."""

from pathlib import Path

import trio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from torrentfs.core.errors import UserError
from torrentfs.core.status_schema import LibraryTorrentStatus
from torrentfs.core.watch_folder import put_link, remove_files, write_torrent
from torrentfs.http.torrent_fetch import MAX_TORRENT_BYTES
from torrentfs.streaming.mount_content import MountContent


class LibraryForms:
    def __init__(self, watch_folder: Path, content: MountContent) -> None:
        self._watch_folder = watch_folder
        self._content = content

    async def add(self, request: Request) -> Response:
        """Form fields `magnet` (a link or info-hash) and/or `torrent` (a file upload)."""
        async with request.form(max_files=1, max_fields=8) as form:
            magnet = form.get("magnet")
            upload = form.get("torrent")
            try:
                if isinstance(magnet, str) and magnet.strip():
                    await trio.to_thread.run_sync(put_link, self._watch_folder, magnet.strip())
                elif isinstance(upload, UploadFile):
                    data = await upload.read(MAX_TORRENT_BYTES + 1)
                    if len(data) > MAX_TORRENT_BYTES:
                        raise UserError("that .torrent file is too large")
                    if not data.startswith(b"d"):
                        raise UserError("that file is not a .torrent (it is not bencoded)")
                    await trio.to_thread.run_sync(
                        write_torrent, self._watch_folder, upload.filename or "upload", data
                    )
                else:
                    raise UserError("give a magnet link or a .torrent file")
            except UserError as error:
                return PlainTextResponse(f"{error}\n", status_code=400)
        return RedirectResponse("/", status_code=303)

    async def remove(self, request: Request) -> Response:
        """Form field `info_hash`: the torrent whose watch-folder files go."""
        async with request.form(max_files=0, max_fields=4) as form:
            wanted = str(form.get("info_hash", "")).strip().lower()
        status = self._content.status()
        torrents: list[LibraryTorrentStatus] = status.get("torrents", [])  # type: ignore[assignment]
        for torrent in torrents:
            if torrent["info_hash"] == wanted:
                await trio.to_thread.run_sync(remove_files, self._watch_folder, torrent["files"])
                return RedirectResponse("/", status_code=303)
        return PlainTextResponse("no such torrent\n", status_code=404)
