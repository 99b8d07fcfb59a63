"""Failed logins by address, and the addresses refused for a while after too many
(qBittorrent's rule: 5 failures, then refused for the ban time). Pure: the caller gives
the time."""

from dataclasses import dataclass, field

FAILURES_BEFORE_BAN = 5


@dataclass
class LoginBans:
    ban_s: float
    _failures: dict[str, int] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    def banned(self, address: str, now: float) -> bool:
        until = self._banned_until.get(address)
        if until is None:
            return False
        if now < until:
            return True
        del self._banned_until[address]
        return False

    def failed(self, address: str, now: float) -> None:
        count = self._failures.get(address, 0) + 1
        if count >= FAILURES_BEFORE_BAN:
            self._banned_until[address] = now + self.ban_s
            count = 0
        self._failures[address] = count

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
