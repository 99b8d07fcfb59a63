"""URL paths to the names of a mount's tree. Pure.

Only a path made of plain names resolves: "." and "..", empty names,
backslashes, NUL and control characters, and paths or names longer than
any the tree holds, resolve to nothing (404), never to a file outside it.
The path arrives percent-decoded once (ASGI's `path`), so "%2e%2e" is "..",
and "%252e" stays a name with a "%" in it.
"""

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def path_names(path: str) -> list[str] | None:
    """The names in `path` ("/a/b/" -> ["a", "b"]), or None if it is not a plain path."""
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return None
    names = path.strip("/").split("/") if path.strip("/") else []
    for name in names:
        if name in ("", ".", "..") or "\\" in name or any(ord(c) < 32 for c in name):
            return None
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            return None
    return names
