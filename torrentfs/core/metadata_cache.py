"""Magnets' metadata kept on disk, so a library lists them at once after a restart."""

import dataclasses
import logging
from pathlib import Path

from torrentfs.core.durable import write_whole
from torrentfs.core.source import Source

log = logging.getLogger(__name__)


class MetadataCache:
    """One `<info-hash>.torrent` per magnet whose metadata came, in one folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def complete(self, source: Source) -> Source:
        """`source` with its metadata, if it is a magnet whose metadata is kept."""
        info_hash = source.info_hash_v1 or source.info_hash_v2
        if source.has_metadata or info_hash is None:
            return source
        try:
            data = (self._folder / f"{info_hash}.torrent").read_bytes()
        except OSError:
            return source
        return dataclasses.replace(source, torrent_data=data)

    def keep(self, info_hash: str, metadata: bytes | None) -> None:
        """Write a magnet's metadata (whole, or not at all); a failure only costs a refetch."""
        path = self._folder / f"{info_hash}.torrent"
        if metadata is None or path.exists():
            return
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            write_whole(path, metadata)
        except OSError as error:
            log.warning("cannot keep the metadata of %s: %s", info_hash, error.strerror)
