"""--http's address: "PORT" or "ADDR:PORT" ("[::1]:PORT" for IPv6). Pure."""

import ipaddress

from torrentfs.core.errors import UserError

LOOPBACK_HOST = "127.0.0.1"


def parse_http_bind(text: str) -> str:
    """ "HOST:PORT" as Hypercorn binds it; a port alone is on loopback. Raises UserError."""
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host, port = LOOPBACK_HOST, text.strip()
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise UserError(f"--http {text}: give a port (1-65535) or ADDR:PORT")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if bare != "localhost":
            raise UserError(f"--http {text}: {bare!r} is not an IP address") from None
        address = ipaddress.ip_address(LOOPBACK_HOST)
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{shown}:{int(port)}"


def is_loopback_bind(bind: str) -> bool:
    host = bind.rpartition(":")[0].strip("[]")
    return ipaddress.ip_address(host).is_loopback
