"""SSDP for the DLNA server: announce it to the LAN's multicast group, answer searches, and
say goodbye at the end. A small trio UDP task beside the HTTP server.

Only on the interfaces `--http` listens on: its address's own, or every interface's for
0.0.0.0. A search is answered only if this machine reaches its sender through one of
them, and the answer names that interface's address, so a TV is always sent a URL it can
reach.
"""

import contextlib
import fcntl
import logging
import random
import socket
import struct

import trio

from torrentfs.core.ssdp_messages import (
    GROUP,
    MAX_AGE_S,
    MAX_DATAGRAM,
    PORT,
    announcement,
    matching,
    parse_search,
    search_answer,
)
from torrentfs.core.upnp_device import DESCRIPTION_PATH

log = logging.getLogger(__name__)

# Announced again well within what the last announcement is valid for.
ANNOUNCE_EVERY_S = MAX_AGE_S / 3
# UDP may lose the first announcement: it goes out twice, this far apart.
REPEAT_AFTER_S = 1.0
# Answers to a search wait a random part of its MX, at most this (a household has few).
ANSWER_SPREAD_AT_MOST_S = 0.5
MULTICAST_TTL = 2
# Linux: a socket gets only the groups it joined itself, not every socket's.
IP_MULTICAST_ALL = 49
SIOCGIFADDR = 0x8915


class Ssdp:
    def __init__(self, uuid: str, host: str, http_port: int, server: str) -> None:
        """`host` is the address --http listens on (0.0.0.0: every interface)."""
        self._uuid, self._http_port, self._server = uuid, http_port, server
        self._addresses = _interface_addresses() if host == "0.0.0.0" else [host]

    def _location(self, address: str) -> str:
        return f"http://{address}:{self._http_port}{DESCRIPTION_PATH}"

    async def run(self) -> None:
        """Until cancelled; then the goodbye. A failure to join the group is logged, not
        raised: the HTTP face goes on without discovery."""
        listener = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with listener, sender:
            joined = await self._join(listener)
            if not joined:
                return
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            log.info("DLNA: announced on %s as uuid:%s", ", ".join(joined), self._uuid)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._announce, sender, joined)
                    await self._answer_searches(listener, sender, joined)
            finally:
                with trio.CancelScope(shield=True):
                    await self._send_all(sender, joined, alive=False)

    async def _join(self, listener: trio.socket.SocketType) -> list[str]:
        """The addresses whose interface joined the group (none: no discovery)."""
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Another SSDP server on this machine (minidlna) may hold the port too.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        try:
            await listener.bind((GROUP, PORT))
        except OSError as error:
            log.warning("DLNA: cannot listen on port %d (%s): TVs will not find this server",
                        PORT, error.strerror)  # fmt: skip
            return []
        joined = []
        for address in self._addresses:
            membership = socket.inet_aton(GROUP) + socket.inet_aton(address)
            try:
                listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            except OSError as error:
                log.warning("DLNA: cannot join the SSDP group on %s: %s", address, error.strerror)
                continue
            joined.append(address)
        if not joined:
            log.warning("DLNA: no interface to announce on: TVs will not find this server")
        return joined

    async def _announce(self, sender: trio.socket.SocketType, addresses: list[str]) -> None:
        await self._send_all(sender, addresses, alive=True)
        await trio.sleep(REPEAT_AFTER_S)
        while True:
            await self._send_all(sender, addresses, alive=True)
            await trio.sleep(ANNOUNCE_EVERY_S)

    async def _send_all(
        self, sender: trio.socket.SocketType, addresses: list[str], alive: bool
    ) -> None:
        for address in addresses:
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            for datagram in announcement(self._uuid, self._location(address), self._server, alive):
                with contextlib.suppress(OSError):
                    await sender.sendto(datagram, (GROUP, PORT))

    async def _answer_searches(
        self,
        listener: trio.socket.SocketType,
        sender: trio.socket.SocketType,
        addresses: list[str],
    ) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                datagram, source = await listener.recvfrom(MAX_DATAGRAM + 1)
                search = parse_search(datagram)
                if search is None:
                    continue
                address = _local_address_towards(source[0])
                if address not in addresses:
                    continue  # not through an interface this server serves
                answers = [
                    search_answer(st, usn, self._location(address), self._server)
                    for st, usn in matching(search, self._uuid)
                ]
                if answers:
                    wait = random.uniform(0, min(search.max_wait_s, ANSWER_SPREAD_AT_MOST_S))
                    nursery.start_soon(_send_later, sender, answers, source, wait)


async def _send_later(
    sender: trio.socket.SocketType, datagrams: list[bytes], to: tuple[str, int], wait_s: float
) -> None:
    await trio.sleep(wait_s)
    for datagram in datagrams:
        with contextlib.suppress(OSError):
            await sender.sendto(datagram, to)


def _local_address_towards(remote: str) -> str | None:
    """The address this machine sends to `remote` from (no datagram is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((remote, PORT))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
        return address


def _interface_addresses() -> list[str]:
    """Every interface's IPv4 address."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address
            found.append(socket.inet_ntoa(answer[20:24]))
    return found
