"""Between the file system and the engine: what a mount shows and how reads become pieces.

Runs under trio and imports neither libtorrent nor pyfuse3: `content` builds
the tree and readers once the metadata is known, `stream` turns reads into
piece requests with deadlines and read-ahead, `idle` watches for the pause.
"""
