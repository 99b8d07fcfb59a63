"""M3U playlists of a mount's media files. Pure."""

from collections.abc import Iterable

# What a TV or VLC plays from a playlist: video and audio, by extension.
PLAYABLE_EXTENSIONS = frozenset(
    {
        "mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts", "mpg", "mpeg", "wmv", "flv",
        "ogv", "mp3", "flac", "m4a", "aac", "ogg", "opus", "wav",
    }
)  # fmt: skip


def is_playable(name: str) -> bool:
    return name.rpartition(".")[2].lower() in PLAYABLE_EXTENSIONS


def m3u(entries: Iterable[tuple[str, str]]) -> str:
    """An extended M3U of (title, absolute URL) pairs, in the order given."""
    lines = ["#EXTM3U"]
    for title, url in entries:
        lines.append(f"#EXTINF:-1,{title}")
        lines.append(url)
    return "\n".join(lines) + "\n"
