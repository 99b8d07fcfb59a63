"""What a file is, by its name: its MIME type, and its UPnP class for a TV. Pure."""

import mimetypes

# What mimetypes does not know, players need.
CONTENT_TYPES = {
    ".mkv": "video/x-matroska",
    ".m2ts": "video/mp2t",
    ".ts": "video/mp2t",
    ".flac": "audio/flac",
    ".srt": "text/srt",
    ".webm": "video/webm",
}
# The UPnP class of each kind of media (ContentDirectory:1, appendix B); other files are not
# shown to a TV.
UPNP_CLASSES = {
    "video": "object.item.videoItem",
    "audio": "object.item.audioItem.musicTrack",
    "image": "object.item.imageItem.photo",
}
SUBTITLE_SUFFIX = ".srt"


def content_type(name: str) -> str:
    suffix = "." + name.rpartition(".")[2].lower() if "." in name else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def upnp_class(name: str) -> str | None:
    """The UPnP class a TV lists the file under; None for a file that is not media."""
    return UPNP_CLASSES.get(content_type(name).partition("/")[0])


def subtitle_for(name: str) -> str:
    """The name of the subtitle file a TV looks for beside a video: same stem, `.srt`."""
    stem = name.rpartition(".")[0] if "." in name else name
    return stem + SUBTITLE_SUFFIX
