"""The DLNA media server's HTTP side (`--dlna`): descriptions, SOAP control, events and
media, as routes of the one Starlette app. SSDP, which tells TVs where to find them, is
`http/ssdp`; the events' subscriptions are `http/gena`.

TVs give no password, so these routes answer without one, wherever `--http` listens:
they list and play the mount and do nothing else (no add, no remove, no API).
Browsing reads the tree only: it starts no torrent and fetches nothing; a media GET
is one reader, like any HTTP reader.
"""

import contextlib
import logging
import platform
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import trio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from torrentfs import __version__
from torrentfs.core.content_directory import (
    CONNECTION_ID,
    connection_manager,
    content_directory,
    file_node,
    source_protocols,
)
from torrentfs.core.didl import CONTENT_FEATURES
from torrentfs.core.durable import write_whole
from torrentfs.core.upnp_device import (
    CONNECTION_MANAGER,
    CONTENT_DIRECTORY,
    DESCRIPTION_PATH,
    DLNA_PREFIX,
    SERVICES,
    device_description,
    service_description,
)
from torrentfs.core.upnp_soap import (
    ACTION_FAILED,
    FAULT_STATUS,
    INVALID_ACTION,
    NotSoap,
    UpnpFault,
    answer,
    fault,
    read_call,
)
from torrentfs.http.app import TreeAnswers
from torrentfs.http.file_response import file_response
from torrentfs.http.gena import Subscriptions
from torrentfs.http.readers import HttpReaders
from torrentfs.http.ssdp import Ssdp

log = logging.getLogger(__name__)

MEDIA_PREFIX = f"{DLNA_PREFIX}/media"
UUID_FILE = "dlna-uuid"
# A Browse call is a few hundred bytes; a body past this is no control point's.
MAX_SOAP_BYTES = 64 << 10
XML = "text/xml; charset=utf-8"


class UpdateIds:
    """ContentDirectory's SystemUpdateID: one more each time the tree is seen to change."""

    def __init__(self, answers: TreeAnswers) -> None:
        self._answers = answers
        self._seen: int | None = None
        self._id = 1

    def current(self) -> int:
        tree = self._answers.tree()
        size = len(tree) if tree is not None else 0
        if self._seen is not None and size != self._seen:
            self._id += 1
        self._seen = size
        return self._id


class DlnaServer:
    """The routes (descriptions, control, events, media) and the tasks beside them (SSDP,
    event delivery) of one media server."""

    def __init__(
        self, answers: TreeAnswers, readers: HttpReaders, uuid: str, friendly_name: str,
        host: str, port: int,
    ) -> None:  # fmt: skip
        """`host` and `port` are where --http listens (0.0.0.0: every interface)."""
        self._answers, self._readers = answers, readers
        self._ssdp = Ssdp(uuid, host, port, server_header())
        self._description = device_description(uuid, friendly_name, __version__)
        self.update_ids = UpdateIds(answers)
        self.subscriptions = Subscriptions(self._event_properties)

    async def run(self) -> None:
        """Until cancelled: announce and answer searches, deliver events."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.subscriptions.run)
            nursery.start_soon(self._ssdp.run)

    def routes(self) -> list[Route]:
        routes = [
            Route(DESCRIPTION_PATH, self._device, methods=["GET", "HEAD"]),
            Route(MEDIA_PREFIX + "/{object_id}/{name}", self._media, methods=["GET", "HEAD"]),
        ]
        for service in SERVICES:
            routes += [
                Route(service.scpd_path, self._scpd(service.service_type), methods=["GET", "HEAD"]),
                Route(service.control_path, self._control(service.service_type), methods=["POST"]),
                Route(service.event_path, self.subscriptions.endpoint(service.service_type),
                      methods=["SUBSCRIBE", "UNSUBSCRIBE"]),
            ]  # fmt: skip
        return routes

    async def _device(self, request: Request) -> Response:
        return Response(self._description, media_type=XML)

    def _scpd(self, service_type: str) -> Callable[[Request], Awaitable[Response]]:
        text = service_description(service_type)

        async def scpd(request: Request) -> Response:
            return Response(text, media_type=XML)

        return scpd

    def _control(self, service_type: str) -> Callable[[Request], Awaitable[Response]]:
        async def control(request: Request) -> Response:
            return await self._answer(request, service_type)

        return control

    async def _answer(self, request: Request, service_type: str) -> Response:
        body = await _body(request)
        if body is None:
            return PlainTextResponse("the body is too large\n", status_code=413)
        try:
            call = read_call(body)
        except NotSoap as error:
            return PlainTextResponse(f"{error}\n", status_code=400)
        try:
            if call.service_type != service_type:
                raise UpnpFault(INVALID_ACTION, f"{call.service_type} is not this service")
            out = self._out_arguments(request, call.action, call.arguments, service_type)
        except UpnpFault as error:
            return Response(fault(error.code, error.description), FAULT_STATUS, media_type=XML)
        return Response(answer(call, out), media_type=XML, headers={"ext": ""})

    def _out_arguments(
        self, request: Request, action: str, arguments: dict[str, str], service_type: str
    ) -> list[tuple[str, str]]:
        if service_type == CONNECTION_MANAGER:
            return connection_manager(action, arguments)
        tree = self._answers.tree()
        if tree is None:
            raise UpnpFault(ACTION_FAILED, "waiting for the torrent's metadata")
        base = str(request.base_url).rstrip("/")

        def url_of(object_id: str, name: str) -> str:
            return f"{base}{MEDIA_PREFIX}/{object_id}/{quote(name)}"

        return content_directory(tree, action, arguments, url_of, self.update_ids.current())

    def _event_properties(self, service_type: str) -> list[tuple[str, str]]:
        if service_type == CONTENT_DIRECTORY:
            return [("SystemUpdateID", str(self.update_ids.current()))]
        return [
            ("SourceProtocolInfo", source_protocols()),
            ("SinkProtocolInfo", ""),
            ("CurrentConnectionIDs", CONNECTION_ID),
        ]

    async def _media(self, request: Request) -> Response:
        tree = self._answers.tree()
        node = file_node(tree, request.path_params["object_id"]) if tree is not None else None
        if node is None:
            return PlainTextResponse("not found\n", status_code=404)
        headers = self._answers.file_headers(node)
        # What a DLNA renderer checks before it plays: a stream, seekable by bytes.
        headers["transfermode.dlna.org"] = request.headers.get("transfermode.dlna.org", "Streaming")
        headers["contentfeatures.dlna.org"] = CONTENT_FEATURES
        return file_response(request, self._answers.content, self._readers, node, headers)


async def _body(request: Request) -> bytes | None:
    """The request's body, or None past MAX_SOAP_BYTES (read no further than that)."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_SOAP_BYTES:
                return None
    except ClientDisconnect:
        return b""
    return bytes(body)


def server_identity(state_dir: Path) -> str:
    """The server's UUID, the same from one start to the next (TVs remember servers by it):
    kept in `state_dir`, made the first time."""
    path = state_dir / UUID_FILE
    with contextlib.suppress(OSError, ValueError):
        return str(uuid.UUID(path.read_text().strip()))
    made = str(uuid.uuid4())
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        write_whole(path, made.encode() + b"\n")
    except OSError as error:
        log.warning("DLNA: cannot keep the server's identity in %s (%s): TVs will see a new "
                    "server at each start", path, error.strerror)  # fmt: skip
    return made


def default_name() -> str:
    return f"torrentfs on {socket.gethostname()}"


def server_header() -> str:
    """SSDP's SERVER: the OS, the UPnP version, the product."""
    return f"Linux/{platform.release()} UPnP/1.0 torrentfs/{__version__}"
