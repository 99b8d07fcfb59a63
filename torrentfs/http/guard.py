"""Who may ask: HTTP Basic credentials when the server has a password (or, on the
qBittorrent API, the SID cookie of a login), and no form post from a page of another site.

A request refused here is answered before any route sees it, so it opens,
lists and starts nothing.
"""

import base64
import binascii
import contextlib
import secrets
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

REALM = "torrentfs"
API_PREFIX = "/api/v2/"
LOGIN_PATH = "/api/v2/auth/login"
SESSION_COOKIE = "SID"
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class Guard:
    def __init__(
        self, user: str, password: str | None, api_sessions: Callable[[str | None], bool]
    ) -> None:
        """`api_sessions` says whether a SID cookie is a logged-in one."""
        self._user = user.encode()
        self._password = password.encode() if password is not None else None
        self._api_sessions = api_sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True if the request was refused (and answered)."""
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        path: str = scope["path"]
        if path.startswith(API_PREFIX):
            if not self._api_allowed(path, headers):
                # qBittorrent's answer to a request without a login.
                await PlainTextResponse("Forbidden", status_code=403)(scope, receive, send)
                return True
        elif self._password is not None and not self._allowed(headers.get("authorization")):
            await PlainTextResponse(
                "credentials needed\n",
                status_code=401,
                headers={"www-authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
            )(scope, receive, send)
            return True
        if scope["method"] in UNSAFE_METHODS and _cross_origin(headers):
            await PlainTextResponse("cross-origin request refused\n", status_code=403)(
                scope, receive, send
            )
            return True
        return False

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


def _cross_origin(headers: dict[str, str]) -> bool:
    """An Origin or Referer naming another host than the one asked (qBittorrent's rule)."""
    host = headers.get("host", "").lower()
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value == "null" or (value is not None and urlsplit(value).netloc.lower() != host):
            return True
    return False
