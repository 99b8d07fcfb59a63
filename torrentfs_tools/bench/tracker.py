"""A minimal HTTP BitTorrent tracker on loopback that answers with a fixed peer list.

Every client finds the seeders the same way, from the .torrent's announce
URL, whether or not it can be given peers on its command line.
"""

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from torrentfs.core.closing import Closing

ANNOUNCE_INTERVAL_S = 30


def _compact(peers: list[tuple[str, int]]) -> bytes:
    return b"".join(socket.inet_aton(host) + struct.pack(">H", port) for host, port in peers)


class LoopbackTracker(Closing):
    """Serves `/announce` on 127.0.0.1 with the peers given to it; counts the announces."""

    def __init__(self, peers: list[tuple[str, int]]) -> None:
        body_peers = _compact(peers)
        body = (
            b"d8:intervali%de5:peers%d:" % (ANNOUNCE_INTERVAL_S, len(body_peers))
            + body_peers
            + b"e"
        )

        tracker = self
        self.announces = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tracker.announces += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def announce_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/announce"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentTracker(Closing):
    """A tracker on 127.0.0.1 that accepts connections and never answers, as a hung one does."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        # The kernel completes the handshakes; nobody ever reads the requests.
        self._socket.listen(64)

    @property
    def announce_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/announce"

    def close(self) -> None:
        self._socket.close()
