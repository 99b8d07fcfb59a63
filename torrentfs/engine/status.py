"""What libtorrent's handle says of a torrent: its status as the mount publishes it, and
which pieces it has and wants."""

from __future__ import annotations

import libtorrent as lt

from torrentfs.core.status_schema import PeerRequests, TorrentStatus

# A block's state in `get_download_queue`: asked of a peer, not received.
BLOCK_REQUESTED = 1

# libtorrent checking a torrent's resume data, or every piece of its files: it
# dials no peer meanwhile, and its resume data claims no piece yet.
CHECKING_STATES = (lt.torrent_status.checking_resume_data, lt.torrent_status.checking_files)


def status_of(
    handle: lt.torrent_handle, info_hash: str, has_metadata: bool, listen_port: int
) -> TorrentStatus:
    status = handle.status()
    return TorrentStatus(
        info_hash=info_hash,
        has_metadata=has_metadata,
        peers=status.num_peers,
        download_rate=status.download_payload_rate,
        upload_rate=status.upload_payload_rate,
        downloaded_bytes=status.total_payload_download,
        uploaded_bytes=status.total_payload_upload,
        listen_port=listen_port,
        peer_requests=peer_requests(handle),
    )


def peer_requests(handle: lt.torrent_handle) -> list[PeerRequests]:
    """What libtorrent has asked each connected peer for and not received yet."""
    pieces: dict[str, set[int]] = {}
    blocks: dict[str, int] = {}
    for partial in handle.get_download_queue():
        for block in partial["blocks"]:
            if block["state"] == BLOCK_REQUESTED:
                peer = _address(block["peer"])
                pieces.setdefault(peer, set()).add(partial["piece_index"])
                blocks[peer] = blocks.get(peer, 0) + 1
    return [
        PeerRequests(
            address=_address(peer.ip),
            client=peer.client.decode(errors="replace"),
            seed=bool(peer.flags & lt.peer_info.seed),
            download_rate=peer.payload_down_speed,
            requested_blocks=blocks.get(_address(peer.ip), 0),
            requested_pieces=sorted(pieces.get(_address(peer.ip), ())),
        )
        for peer in handle.get_peer_info()
    ]


def _address(endpoint: tuple[str, int]) -> str:
    return "{}:{}".format(*endpoint)


def not_started(info_hash: str, has_metadata: bool) -> TorrentStatus:
    """The status of a torrent not in the session yet."""
    return TorrentStatus(
        info_hash=info_hash,
        has_metadata=has_metadata,
        peers=0,
        download_rate=0,
        upload_rate=0,
        downloaded_bytes=0,
        uploaded_bytes=0,
        listen_port=0,
    )


def wanted_pieces(handle: lt.torrent_handle) -> list[int]:
    """Pieces libtorrent would still download: priority above 0 and not had."""
    have = handle.status(lt.status_flags_t.query_pieces).pieces
    priorities = handle.get_piece_priorities()
    return [p for p, priority in enumerate(priorities) if priority > 0 and not have[p]]


def had_pieces(handle: lt.torrent_handle) -> list[int]:
    """Pieces libtorrent has verified in its files."""
    have = handle.status(lt.status_flags_t.query_pieces).pieces
    return [piece for piece, had in enumerate(have) if had]
