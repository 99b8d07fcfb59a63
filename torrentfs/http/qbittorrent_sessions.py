"""The qBittorrent API's logins: SID cookies handed out for the right credentials, and the
failed logins of each address (banned after too many)."""

import secrets
import time

from torrentfs.core.login_bans import LoginBans


class ApiSessions:
    """Logged-in SID cookies, and the failed logins of each address."""

    def __init__(
        self, user: str, password: str | None, ban_s: float, loopback_open: bool = False
    ) -> None:
        self._user = user
        self._password = password
        self.loopback_open = loopback_open
        self._sessions: set[str] = set()
        self.bans = LoginBans(ban_s)

    def login(self, address: str, user: str, password: str) -> str | None:
        """A new SID, or None for wrong credentials (counted against `address`)."""
        right = self._password is None or (
            secrets.compare_digest(user.encode(), self._user.encode())
            and secrets.compare_digest(password.encode(), self._password.encode())
        )
        if not right:
            self.bans.failed(address, time.monotonic())
            return None
        self.bans.succeeded(address)
        sid = secrets.token_urlsafe(24)
        self._sessions.add(sid)
        return sid

    def valid(self, sid: str | None) -> bool:
        return sid is not None and sid in self._sessions

    def logout(self, sid: str | None) -> None:
        self._sessions.discard(sid or "")
