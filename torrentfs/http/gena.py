"""UPnP eventing (GENA) for the DLNA server: SUBSCRIBE, renewal and UNSUBSCRIBE, and a
NOTIFY to each subscriber with the evented variables at once and whenever they change
(ContentDirectory's SystemUpdateID, when the library does).

A callback must be on the subscriber's own address: a NOTIFY is never sent anywhere a
client merely names (a LAN client must not make the server post to a third machine).
Subscriptions are few and expire; a subscriber that does not answer loses its own.
"""

import contextlib
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import httpx
import trio
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1800
MAX_TIMEOUT_S = 86400
MAX_SUBSCRIPTIONS = 64
NOTIFY_TIMEOUT_S = 5.0
# How often the evented variables are compared with what subscribers were last sent.
CHECK_INTERVAL_S = 2.0
EVENT_NS = "urn:schemas-upnp-org:event-1-0"

# A service's evented variables and their values now.
Properties = Callable[[str], list[tuple[str, str]]]


@dataclass
class _Subscription:
    sid: str
    service_type: str
    callback: str
    expires_at: float
    sequence: int = 0
    sent: list[tuple[str, str]] | None = None


class Subscriptions:
    def __init__(self, properties: Properties) -> None:
        self._properties = properties
        self._by_sid: dict[str, _Subscription] = {}
        self._send: trio.MemorySendChannel[_Subscription]
        self._send, self._receive = trio.open_memory_channel[_Subscription](MAX_SUBSCRIPTIONS)

    def endpoint(self, service_type: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if request.method == "SUBSCRIBE":
                return self._subscribe(request, service_type)
            return self._unsubscribe(request)

        return handle

    async def run(self) -> None:
        """Until cancelled: send what is due, drop what expired."""
        async with (
            httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S) as client,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self._send_queued, client)
            while True:
                await trio.sleep(CHECK_INTERVAL_S)
                now = time.monotonic()
                for subscription in list(self._by_sid.values()):
                    if subscription.expires_at < now:
                        del self._by_sid[subscription.sid]
                    elif subscription.sent != self._properties(subscription.service_type):
                        self._queue(subscription)

    def _subscribe(self, request: Request, service_type: str) -> Response:
        timeout_s = _timeout(request.headers.get("timeout"))
        sid = request.headers.get("sid")
        if sid is not None:
            if "callback" in request.headers or "nt" in request.headers:
                return Response(status_code=400)
            renewed = self._by_sid.get(sid)
            if renewed is None:
                return Response(status_code=412)
            renewed.expires_at = time.monotonic() + timeout_s
            return _accepted(sid, timeout_s)
        callback = _callback(request)
        if request.headers.get("nt") != "upnp:event" or callback is None:
            return Response(status_code=412)
        if len(self._by_sid) >= MAX_SUBSCRIPTIONS:
            return Response(status_code=503)
        subscription = _Subscription(
            f"uuid:{uuid.uuid4()}", service_type, callback, time.monotonic() + timeout_s
        )
        self._by_sid[subscription.sid] = subscription
        self._queue(subscription)  # the initial event, with every evented variable
        return _accepted(subscription.sid, timeout_s)

    def _unsubscribe(self, request: Request) -> Response:
        sid = request.headers.get("sid")
        if sid is None or "callback" in request.headers or "nt" in request.headers:
            return Response(status_code=400)
        if self._by_sid.pop(sid, None) is None:
            return Response(status_code=412)
        return Response(status_code=200)

    def _queue(self, subscription: _Subscription) -> None:
        subscription.sent = self._properties(subscription.service_type)
        # Full only with every subscriber queued: this one is, and goes with its new values.
        with contextlib.suppress(trio.WouldBlock):
            self._send.send_nowait(subscription)

    async def _send_queued(self, client: httpx.AsyncClient) -> None:
        async for subscription in self._receive:
            if subscription.sid not in self._by_sid:
                continue
            body = _property_set(subscription.sent or [])
            headers = {
                "content-type": 'text/xml; charset="utf-8"',
                "nt": "upnp:event",
                "nts": "upnp:propchange",
                "sid": subscription.sid,
                "seq": str(subscription.sequence),
            }
            subscription.sequence = (subscription.sequence + 1) % (2**32)
            try:
                await client.request("NOTIFY", subscription.callback, headers=headers, content=body)
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                log.debug("event to %s not delivered: %s", subscription.callback, error)
                self._by_sid.pop(subscription.sid, None)


def _accepted(sid: str, timeout_s: int) -> Response:
    return Response(status_code=200, headers={"sid": sid, "timeout": f"Second-{timeout_s}"})


def _timeout(text: str | None) -> int:
    """The subscription's length: what the subscriber asked within bounds, else the default."""
    if text is None or not text.lower().startswith("second-"):
        return DEFAULT_TIMEOUT_S
    seconds = text[len("second-") :]
    if not seconds.isdigit() or not seconds.isascii():
        return DEFAULT_TIMEOUT_S
    return max(1, min(int(seconds), MAX_TIMEOUT_S))


def _callback(request: Request) -> str | None:
    """The first callback URL, if it is plain HTTP to the subscriber's own address."""
    text = request.headers.get("callback", "")
    if not (text.startswith("<") and ">" in text) or request.client is None:
        return None
    url = text[1 : text.index(">")]
    parts = urlsplit(url)
    try:
        same = ipaddress.ip_address(parts.hostname or "") == ipaddress.ip_address(
            request.client.host
        )
    except ValueError:
        return None
    return url if parts.scheme == "http" and same else None


def _property_set(properties: list[tuple[str, str]]) -> str:
    inner = "".join(
        f"<e:property><{name}>{escape(value)}</{name}></e:property>" for name, value in properties
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<e:propertyset xmlns:e="{EVENT_NS}">{inner}</e:propertyset>'
    )
