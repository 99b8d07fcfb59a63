"""The guard's rules as pure logic: credentials, the loopback bypass, the cross-origin rule."""

import base64

import pytest
import trio
from starlette.types import Message, Scope

from torrentfs.http.guard import Guard

PASSWORD = "secret"


def _scope(path: str, client: str, method: str = "GET", **headers: str) -> Scope:
    return {
        "type": "http",
        "path": path,
        "method": method,
        "client": (client, 40000),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def _answer(guard: Guard, scope: Scope) -> int | None:
    """The status the guard answered with, or None if it let the request through."""
    sent: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent.append(int(message["status"]))

    refused = trio.run(guard, scope, receive, send)
    return sent[0] if refused else None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("path", ["/files/a", "/api/v2/torrents/info"])
def test_the_loopback_bypass_lets_local_clients_in_and_no_one_else(path):
    guard = Guard("torrentfs", PASSWORD, lambda sid: False, loopback_open=True)
    refused = 401 if path.startswith("/files") else 403
    for local in ("127.0.0.1", "127.0.0.7", "::1"):
        assert _answer(guard, _scope(path, local)) is None
    for remote in ("192.168.1.20", "10.0.0.1", "fe80::1", "not-an-address"):
        assert _answer(guard, _scope(path, remote)) == refused
    remote_with_password = _scope(path, "192.168.1.20", authorization=_basic("torrentfs", PASSWORD))
    assert _answer(guard, remote_with_password) is None


def test_without_the_bypass_local_clients_need_credentials_too():
    guard = Guard("torrentfs", PASSWORD, lambda sid: False)
    assert _answer(guard, _scope("/files/a", "127.0.0.1")) == 401
    assert _answer(guard, _scope("/api/v2/torrents/info", "127.0.0.1")) == 403
    wrong = _scope("/files/a", "127.0.0.1", authorization=_basic("torrentfs", "guess"))
    assert _answer(guard, wrong) == 401


def test_a_local_client_is_still_held_to_the_cross_origin_rule():
    guard = Guard("torrentfs", PASSWORD, lambda sid: False, loopback_open=True)
    post = _scope(
        "/api/v2/torrents/add", "127.0.0.1", "POST", host="127.0.0.1:8080",
        origin="http://evil.example",
    )  # fmt: skip
    assert _answer(guard, post) == 403
    same_site = _scope(
        "/api/v2/torrents/add", "127.0.0.1", "POST", host="127.0.0.1:8080",
        origin="http://127.0.0.1:8080",
    )  # fmt: skip
    assert _answer(guard, same_site) is None
