"""A `.torrent` fetched from a URL, as an indexer's download link gives it (Prowlarr):
http(s) only, at most `MAX_TORRENT_BYTES`, within `FETCH_TIMEOUT_S`, redirects followed by
hand to http(s) or to a `magnet:` link (which indexers use), never to anything else."""

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
import trio

# A .torrent larger than this is not one anybody serves (a 100 GB torrent's is ~2 MB).
MAX_TORRENT_BYTES = 16 << 20
FETCH_TIMEOUT_S = 20.0
MAX_REDIRECTS = 5


class FetchFailed(Exception):
    """The URL gave no torrent; the message says why."""


@dataclass(frozen=True)
class Fetched:
    """A .torrent's bytes, or the magnet link a redirect named."""

    torrent: bytes | None = None
    magnet: str | None = None


async def fetch_torrent(url: str) -> Fetched:
    """Raises FetchFailed."""
    with trio.move_on_after(FETCH_TIMEOUT_S) as scope:
        result = await _follow(url)
    if scope.cancelled_caught:
        raise FetchFailed(f"{url}: no answer within {FETCH_TIMEOUT_S:.0f} s")
    return result


async def _follow(url: str) -> Fetched:
    async with httpx.AsyncClient(follow_redirects=False, timeout=FETCH_TIMEOUT_S) as client:
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchFailed(f"{url}: only http(s) links and magnets")
            try:
                async with client.stream("GET", url) as answer:
                    if answer.is_redirect:
                        target = urljoin(url, answer.headers.get("location", ""))
                        if target.startswith("magnet:"):
                            return Fetched(magnet=target)
                        url = target
                        continue
                    if answer.status_code != 200:
                        raise FetchFailed(f"{url}: answered {answer.status_code}")
                    body = b""
                    async for chunk in answer.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_TORRENT_BYTES:
                            raise FetchFailed(f"{url}: larger than any .torrent")
                    if not body.startswith(b"d"):
                        raise FetchFailed(f"{url}: not a .torrent (not bencoded)")
                    return Fetched(torrent=body)
            except httpx.HTTPError as error:
                raise FetchFailed(f"{url}: {error}") from None
        raise FetchFailed(f"{url}: more than {MAX_REDIRECTS} redirects")
