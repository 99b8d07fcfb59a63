"""Who may ask: HTTP Basic credentials when the server has a password (or, on the
qBittorrent API, the SID cookie of a login), and no form post from a page of another site.
With `loopback_open`, clients on this machine need no credentials (qBittorrent's "bypass
authentication for clients on localhost"), but the cross-origin rule still holds for them.

A request refused here is answered before any route sees it, so it opens,
lists and starts nothing.
"""

import base64
import binascii
import contextlib
import ipaddress
import secrets
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

REALM = "torrentfs"
API_PREFIX = "/api/v2/"
LOGIN_PATH = "/api/v2/auth/login"
SESSION_COOKIE = "SID"
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class Guard:
    def __init__(
        self,
        user: str,
        password: str | None,
        api_sessions: Callable[[str | None], bool],
        loopback_open: bool = False,
    ) -> None:
        """`api_sessions` says whether a SID cookie is a logged-in one."""
        self._user = user.encode()
        self._password = password.encode() if password is not None else None
        self._api_sessions = api_sessions
        self._loopback_open = loopback_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True if the request was refused (and answered)."""
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        local = self._loopback_open and _on_loopback(scope.get("client"))
        refusal = None if local else self._credentials_refusal(scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return True
        if scope["method"] in UNSAFE_METHODS and _cross_origin(headers):
            await PlainTextResponse("cross-origin request refused\n", status_code=403)(
                scope, receive, send
            )
            return True
        return False

    def _credentials_refusal(self, path: str, headers: dict[str, str]) -> Response | None:
        if path.startswith(API_PREFIX):
            if self._api_allowed(path, headers):
                return None
            # qBittorrent's answer to a request without a login.
            return PlainTextResponse("Forbidden", status_code=403)
        if self._password is None or self._allowed(headers.get("authorization")):
            return None
        return PlainTextResponse(
            "credentials needed\n",
            status_code=401,
            headers={"www-authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )

    def _api_allowed(self, path: str, headers: dict[str, str]) -> bool:
        if self._password is None or path == LOGIN_PATH:
            return True
        if self._allowed(headers.get("authorization")):
            return True
        cookies = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(headers.get("cookie", ""))
        sid = cookies.get(SESSION_COOKIE)
        value: str | None = sid.value if sid is not None else None
        return self._api_sessions(value)

    def _allowed(self, authorization: str | None) -> bool:
        if authorization is None or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = decoded.partition(b":")
        assert self._password is not None
        same_user = secrets.compare_digest(user, self._user)
        return bool(colon) and same_user & secrets.compare_digest(password, self._password)


def _on_loopback(client: tuple[str, int] | None) -> bool:
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def _cross_origin(headers: dict[str, str]) -> bool:
    """An Origin or Referer naming another host than the one asked (qBittorrent's rule)."""
    host = headers.get("host", "").lower()
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value == "null" or (value is not None and urlsplit(value).netloc.lower() != host):
            return True
    return False
