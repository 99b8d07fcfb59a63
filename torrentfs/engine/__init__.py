"""The BitTorrent side, and the only package that imports libtorrent.

`session.Session` owns one libtorrent session and its alert pump and holds
any number of `torrent.Torrent`s keyed by info-hash; `add_params` turns a
source and resume data into what libtorrent adds; `settings` holds what
libtorrent is told and why.
"""
