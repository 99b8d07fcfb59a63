"""A file's bytes as an HTTP response: ranges and validators, and the body read from the
client's reader as it goes out (`FileBody`), let go when the client leaves."""

import logging
from email.utils import parsedate_to_datetime

import trio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from torrentfs.core.http_ranges import ByteRange, Unsatisfiable, parse_range
from torrentfs.core.tree import Node
from torrentfs.http.readers import HttpReader, HttpReaders
from torrentfs.streaming.mount_content import MountContent, ReadTimeout

log = logging.getLogger(__name__)

# Bytes asked of a reader at once grow from the first to the largest: a response's first
# bytes (a seek's) go out as soon as the piece they are in has come, instead of waiting
# for the next piece too; a long read is asked for in big chunks, for fewer round trips.
FIRST_CHUNK_BYTES = 64 << 10
CHUNK_BYTES = 1 << 20


class ClientGone(Exception):
    """The client disconnected before the response was sent whole."""


def client_key(request: Request) -> tuple[str, str]:
    """Who a client is: its address and what it says it is."""
    host = request.client.host if request.client else ""
    return host, request.headers.get("user-agent", "")


def file_response(
    request: Request,
    content: MountContent,
    readers: HttpReaders,
    node: Node,
    headers: dict[str, str],
) -> Response:
    """The response to a GET or HEAD of a file: whole, a range, or 416."""
    assert node.file is not None
    size = node.file.size
    wanted: ByteRange | None
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{size}"})
    if wanted is not None and not _range_still_valid(request, headers):
        wanted = None
    if wanted is None:
        start, length, status_code = 0, size, 200
    else:
        start, length, status_code = wanted.start, wanted.length, 206
        headers["content-range"] = wanted.content_range(size)
    headers["content-length"] = str(length)
    if request.method == "HEAD" or length == 0:
        # A HEAD starts nothing: the torrent is not read.
        return Response(status_code=status_code, headers=headers)
    return FileBody(content, readers, client_key(request), node, start, length,
                    status_code, headers)  # fmt: skip


def _range_still_valid(request: Request, headers: dict[str, str]) -> bool:
    """If-Range: the range holds only if the client's validator is this file's."""
    validator = request.headers.get("if-range")
    if validator is None:
        return True
    if validator.startswith(('"', 'W/"')):
        return validator == headers["etag"]
    try:
        return (
            parsedate_to_datetime(validator).timestamp()
            >= parsedate_to_datetime(headers["last-modified"]).timestamp()
        )
    except (TypeError, ValueError):
        return False


class FileBody(Response):
    """A file's bytes from its client's reader, sent as they come; the reader is let go
    at once if the client disconnects."""

    def __init__(
        self,
        content: MountContent,
        readers: HttpReaders,
        client: tuple[str, str],
        node: Node,
        start: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
    ) -> None:
        super().__init__(status_code=status_code, headers=headers)
        self._content = content
        self._readers = readers
        self._client = client
        self._node = node
        self._start = start
        self._length = length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with self._readers.reading(self._client, self._node) as reader:
                await self._respond(reader, scope, receive, send)
                if self._gone:
                    # Leaving the reader this way closes it at once: nobody reads on.
                    raise ClientGone
        except ClientGone:
            log.debug("%s went away while reading %s", self._client[0], self._node.name)

    async def _respond(
        self, reader: HttpReader, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            first = await self._read(reader, self._start)
        except ReadTimeout:
            await PlainTextResponse("timed out waiting for pieces\n", 504)(scope, receive, send)
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._cancel_when_gone, receive, nursery.cancel_scope)
            await send(
                {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}
            )  # fmt: skip
            await self._send_from(send, reader, first)
            nursery.cancel_scope.cancel()

    _gone = False

    async def _cancel_when_gone(self, receive: Receive, scope: trio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        scope.cancel()

    async def _read(self, reader: HttpReader, offset: int) -> bytes:
        end = self._start + self._length
        # Each chunk twice the bytes sent so far, from FIRST_CHUNK_BYTES up to CHUNK_BYTES.
        chunk = min(max(FIRST_CHUNK_BYTES, 2 * (offset - self._start)), CHUNK_BYTES)
        return await self._content.read(reader.handle, offset, min(chunk, end - offset))

    async def _send_from(self, send: Send, reader: HttpReader, first: bytes) -> None:
        offset, data = self._start, first
        end = self._start + self._length
        while True:
            offset += len(data)
            more = offset < end and bool(data)
            await send({"type": "http.response.body", "body": data, "more_body": more})
            if not more:
                return
            data = await self._read(reader, offset)
