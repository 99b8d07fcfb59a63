"""Which peers keep serving us through a "not interested" that is taken back at once.

Requests already sent to peers are withdrawn (after a seek) by switching libtorrent's
upload mode on and off: it cancels every request at every peer, but it also tells each
seed "not interested" and then "interested" again. What that costs depends on the seed's
client (measured on loopback, one seeder at 4 MB/s, six seeks through a 120 MB file with
1 MiB pieces; docs/architecture.md, "Seeks"):

- libtorrent (qBittorrent, Deluge): answers the cancels with rejects and keeps unchoking;
  the seeks' median fell from 0.90 to 0.63 s;
- Transmission 3.00: keeps serving (it never answers a cancel, so nothing is won either);
- aria2 1.36: chokes at once and unchokes at its next round: one seek took 12 s and a
  sequential read fell from 5.4 to 1.4 MB/s;
- rtorrent 0.9.8: chokes until its next round: seeks of 25-28 s.

Peers are told apart by their Azureus-style peer id (BEP 20); a client not named here is
not asked to forgive it.
"""

# `-lt` (lower case) is rtorrent's libtorrent, not libtorrent's.
FORGIVING_PEER_ID_PREFIXES = (b"-LT", b"-qB", b"-DE", b"-TR")


def forgives_interest_flicker(peer_id: bytes) -> bool:
    """Whether a seed with this peer id keeps serving through "not interested, interested"."""
    return peer_id.startswith(FORGIVING_PEER_ID_PREFIXES)
