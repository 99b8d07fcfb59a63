"""`make bench`: torrentfs beside btfs and webtorrent-cli on one loopback swarm.

Everything runs inside a fresh network namespace that has only `lo`, so the
clients that cannot be told to stay local (btfs turns on DHT, LSD and UPnP)
cannot reach anything else. Figures, not assertions: the results go to
stdout as JSON and a table, and to docs/benchmarks.md.
"""
