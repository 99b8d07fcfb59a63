"""torrentfs: mount a torrent as a read-only folder whose files stream as they are read."""

__version__ = "0.1.0"
