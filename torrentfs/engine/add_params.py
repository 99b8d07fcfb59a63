"""What libtorrent adds: a torrent's add parameters from a source, resume data and wishes.

Pure: no session, no files. `Torrent` decides when to add; this decides
what the parameters say.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterable
from pathlib import Path

import libtorrent as lt

from torrentfs.core.config import NetworkSettings
from torrentfs.core.errors import UserError
from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.core.source import Source
from torrentfs.core.tree import path_in_mount
from torrentfs.engine.settings import DEADLINE_PRIORITY

log = logging.getLogger(__name__)

# Not auto-managed, so libtorrent's queueing never pauses a torrent we serve.
ADD_FLAGS = (
    lt.torrent_flags.default_flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
)


def from_source(source: Source, network: NetworkSettings) -> lt.add_torrent_params:
    """The add parameters of `source`; raises UserError for a .torrent libtorrent rejects."""
    if source.torrent_data is not None:
        try:
            params = lt.load_torrent_buffer(source.torrent_data)
        except RuntimeError as error:
            # libtorrent ends its messages with its error category: "[bdecode:3]".
            reason = re.sub(r" \[\w+:\d+\]$", "", str(error))
            raise UserError(f"{source.text} is not a valid .torrent file: {reason}") from None
    else:
        params = lt.add_torrent_params()
        params.info_hashes = _info_hashes(source)
        if source.display_name:
            params.name = source.display_name
    if source.trackers:
        params.trackers = list(source.trackers)
    _add_trackers(params, network.trackers)
    return params


def resumed(params: lt.add_torrent_params, resume_data: bytes | None) -> lt.add_torrent_params:
    """`params` with what an earlier mount fetched, if `resume_data` is of this torrent."""
    if resume_data is None:
        return params
    try:
        saved = lt.read_resume_data(resume_data)
    except RuntimeError as error:
        log.warning("ignoring unreadable resume data (%s)", error)
        return params
    if hex_info_hash(saved.info_hashes) != hex_info_hash(params.info_hashes):
        log.warning("ignoring resume data of another torrent")
        return params
    if saved.ti is None:
        saved.ti = params.ti
    saved.save_path = params.save_path
    saved.trackers = list(saved.trackers) or list(params.trackers)
    # Flags and piece priorities are this mount's business, not the last
    # one's: `for_add` sets them.
    log.info("resuming: %d pieces already in %s", sum(saved.have_pieces), params.save_path)
    return saved


def without_pieces(params: lt.add_torrent_params, pieces: Iterable[int]) -> None:
    """Make `params` say the torrent lacks `pieces`."""
    have = list(params.have_pieces)
    for piece in pieces:
        if piece < len(have):
            have[piece] = False
    params.have_pieces = have


def for_add(
    params: lt.add_torrent_params,
    background_priority: int,
    wanted: Collection[int],
    paused: bool,
) -> None:
    """Set the flags and priorities `params` is added with.

    Every file wanted, every piece at `background_priority` (0: only what is
    read) but the `wanted` ones: files at priority 0 would make libtorrent
    keep pieces in a part file of its own layout, where they could not be
    forgotten one by one.
    """
    params.flags = ADD_FLAGS
    if params.ti is not None:
        params.file_priorities = [1] * params.ti.num_files()
        params.piece_priorities = piece_priorities(
            params.ti.num_pieces(), background_priority, wanted
        )
    else:
        # Until the metadata handler has set the piece priorities: left
        # to itself, libtorrent requests random pieces the moment the
        # metadata arrives, and cancelling them stalled Transmission,
        # which never answers a cancel, for libtorrent's 20 s timeout.
        params.flags |= lt.torrent_flags.upload_mode
    if paused:
        params.flags |= lt.torrent_flags.paused


def piece_priorities(num_pieces: int, background: int, wanted: Collection[int]) -> list[int]:
    priorities = [background] * num_pieces
    for piece in wanted:
        if piece < num_pieces:
            priorities[piece] = DEADLINE_PRIORITY
    return priorities


def layout_from_torrent_info(info: lt.torrent_info) -> TorrentLayout:
    """The pure layout of libtorrent's `torrent_info`."""
    storage = info.files()
    files = tuple(
        FileEntry(
            index=index,
            path=path_in_mount(tuple(storage.file_path(index).split(os.sep))),
            offset=storage.file_offset(index),
            size=storage.file_size(index),
            is_padding=bool(storage.file_flags(index) & lt.file_storage.flag_pad_file),
        )
        for index in range(storage.num_files())
    )
    return TorrentLayout(
        name=info.name(),
        piece_length=info.piece_length(),
        total_size=info.total_size(),
        files=files,
        creation_date=info.creation_date(),
    )


def file_paths(info: lt.torrent_info, save_path: Path) -> list[Path]:
    """Where libtorrent keeps each file of the torrent, in the torrent's order."""
    files = info.files()
    return [save_path / files.file_path(index) for index in range(files.num_files())]


def hex_info_hash(hashes: lt.info_hash_t) -> str:
    """The info-hash torrentfs names a torrent by: v1 if it has one, else v2."""
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def _add_trackers(params: lt.add_torrent_params, urls: tuple[str, ...]) -> None:
    """Append `urls` after the trackers `params` has, each in a tier of its own."""
    if not urls:
        return
    trackers = list(params.trackers)
    tiers = list(params.tracker_tiers)[: len(trackers)]
    tiers += [0] * (len(trackers) - len(tiers))
    next_tier = max(tiers, default=-1) + 1
    params.trackers = [*trackers, *urls]
    params.tracker_tiers = [*tiers, *range(next_tier, next_tier + len(urls))]


def _info_hashes(source: Source) -> lt.info_hash_t:
    v1 = lt.sha1_hash(bytes.fromhex(source.info_hash_v1)) if source.info_hash_v1 else None
    v2 = lt.sha256_hash(bytes.fromhex(source.info_hash_v2)) if source.info_hash_v2 else None
    if v1 is not None and v2 is not None:
        return lt.info_hash_t(v1, v2)
    if v1 is not None:
        return lt.info_hash_t(v1)
    assert v2 is not None, "a source without metadata has an info-hash"
    return lt.info_hash_t(v2)
