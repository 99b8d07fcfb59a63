"""systemd's service notifications (sd_notify): a few datagrams to `$NOTIFY_SOCKET`.

With `Type=notify` systemd waits for `READY=1`, shows the latest `STATUS=`
line in `systemctl status`, and learns of a clean stop from `STOPPING=1`.
Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.
"""

import logging
import os
import socket

from torrentfs.core.closing import Closing

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


class Notifier(Closing):
    """The connection to systemd's notification socket, if the service manager gave one."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self._address = _address(os.environ.get(NOTIFY_SOCKET_ENV, ""))
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def ready(self) -> None:
        self._send("READY=1")

    def status(self, line: str) -> None:
        self._send(f"STATUS={line}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def _send(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as error:
            # Losing a notification must not take the mount down.
            log.warning("could not notify systemd (%s): %s", message, error.strerror)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


def _address(text: str) -> str | bytes:
    """An abstract socket is written with a leading `@` and addressed with a NUL byte."""
    if text.startswith("@"):
        return b"\0" + text[1:].encode()
    return text
