"""Tooling around torrentfs, never imported by it: a loopback swarm, foreign clients,
the demo and the benchmark."""
