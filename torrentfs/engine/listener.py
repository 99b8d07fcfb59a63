"""What a torrent tells the rest of the mount: the metadata once, then every verified piece."""

from typing import Protocol

from torrentfs.core.layout import TorrentLayout


class PieceConsumer(Protocol):
    def piece_arrived(self, piece: int, data: bytes) -> None: ...

    def piece_failed(self, piece: int, reason: str) -> None: ...


class TorrentListener(Protocol):
    def metadata_ready(self, layout: TorrentLayout) -> PieceConsumer:
        """The files are known; returns what takes the verified pieces from now on."""
