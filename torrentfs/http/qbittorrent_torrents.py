"""What the qBittorrent API says of a library's torrents and does to its watch folder: a
torrent described as `torrents/info` gives it, the categories (the watch folder's
subfolders), and adding links and uploads to one. File work runs on a worker thread, off
the loop that answers FUSE."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio
from starlette.datastructures import FormData, UploadFile

from torrentfs.core.errors import UserError
from torrentfs.core.library_tree import parent_folder
from torrentfs.core.status_schema import LibraryTorrentStatus
from torrentfs.core.tree import Node
from torrentfs.core.watch_folder import put_link, write_torrent
from torrentfs.http.torrent_fetch import MAX_TORRENT_BYTES, fetch_torrent
from torrentfs.streaming.library_torrent import QUEUED_FOR_METADATA
from torrentfs.streaming.mount_content import FETCHING_METADATA, Tree, resolve

# What qBittorrent reports as the ETA of a complete torrent.
ETA_NEVER_S = 8640000
METADATA_STATES = frozenset({FETCHING_METADATA, QUEUED_FOR_METADATA})


def describe(
    torrent: LibraryTorrentStatus, tree: Tree | None, base: Path, added_s: int
) -> dict[str, Any]:
    """A torrent as `torrents/info` gives it: complete once its metadata is known, its
    paths under `base` (the symlink mirror, or the mount)."""
    mount: dict[str, Any] = dict(torrent["status"] or {})
    known = torrent["state"] not in METADATA_STATES
    category = category_of(torrent)
    folder = resolve(tree, torrent["folder"]) if tree is not None and known else None
    size = (
        sum(n.file.size for _, n in files_below(tree, folder, []) if n.file)
        if tree is not None and folder is not None
        else 0
    )
    in_swarm = torrent["status"] is not None
    return {
        "hash": torrent["info_hash"],
        "name": torrent["folder"].rpartition("/")[2],
        "size": size,
        "total_size": size,
        "progress": 1 if known else 0,
        "eta": ETA_NEVER_S,
        "state": ("uploading" if in_swarm else "stalledUP") if known else "metaDL",
        "category": category,
        "tags": "",
        "save_path": str(base / category) if category else str(base),
        "content_path": str(base / torrent["folder"]),
        "ratio": 0,
        "ratio_limit": -2,
        "seeding_time": 0,
        "seeding_time_limit": -2,
        "inactive_seeding_time_limit": -2,
        "added_on": added_s,
        "completion_on": added_s if known else -1,
        "amount_left": 0 if known else size,
        "downloaded": 0,
        "uploaded": 0,
        "dlspeed": mount.get("download_rate", 0),
        "upspeed": mount.get("upload_rate", 0),
        "num_seeds": mount.get("peers", 0),
        "num_leechs": 0,
        "priority": 0,
        "force_start": False,
        "auto_tmm": False,
    }


async def add_all(form: FormData, folder: Path) -> int:
    """Every link and upload of the form into `folder`; how many. Raises on the first
    that fails (what came before it stays: each is whole on its own)."""
    added = 0
    await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    for line in str(form.get("urls", "")).splitlines():
        url = line.strip()
        if not url:
            continue
        if url.startswith(("http://", "https://")):
            fetched = await fetch_torrent(url)
            if fetched.magnet is not None:
                await trio.to_thread.run_sync(put_link, folder, fetched.magnet)
            else:
                assert fetched.torrent is not None
                name = Path(url.split("?")[0]).name or "download"
                await trio.to_thread.run_sync(write_torrent, folder, name, fetched.torrent)
        else:
            await trio.to_thread.run_sync(put_link, folder, url)
        added += 1
    for upload in form.getlist("torrents"):
        if isinstance(upload, UploadFile):
            data = await upload.read(MAX_TORRENT_BYTES + 1)
            if len(data) > MAX_TORRENT_BYTES or not data.startswith(b"d"):
                raise UserError("not a .torrent")
            await trio.to_thread.run_sync(write_torrent, folder, upload.filename or "upload", data)
            added += 1
    await trio.lowlevel.checkpoint()
    return added


def category_of(torrent: LibraryTorrentStatus) -> str:
    return parent_folder(torrent["files"][0]) if torrent["files"] else ""


def files_below(tree: Tree, node: Node, prefix: list[str]) -> Iterator[tuple[list[str], Node]]:
    for child in tree.children(node.inode):
        if child.is_dir:
            yield from files_below(tree, child, [*prefix, child.name])
        else:
            yield [*prefix, child.name], child


def subfolders(folder: Path) -> list[str]:
    found = []
    for current, folders, _ in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in folders:
            found.append(os.path.relpath(os.path.join(current, name), folder))
    return found
