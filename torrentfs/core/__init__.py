"""The pure core: settings, sources, layouts, trees, windows, the store and the budget.

Nothing here imports libtorrent, trio or pyfuse3 (`make lint` checks it),
so all of it is tested without a session, an event loop or a mount.
"""
