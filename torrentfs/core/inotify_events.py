"""The records Linux's inotify reads back, decoded (pure: bytes in, events out).

Each record is `struct inotify_event`: the watch descriptor, the event mask,
a cookie pairing the two halves of a rename, and a NUL-padded name of the
given length (empty for an event about the watched folder itself).
"""

import os
import struct
from dataclasses import dataclass

# From <sys/inotify.h>.
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# What a watch folder's follower asks to hear of: files written, and entries coming,
# going or moving (a file renamed into place is how careful writers finish).
FOLDER_MASK = (
    IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)

_HEADER = struct.Struct("iIII")


@dataclass(frozen=True)
class InotifyEvent:
    watch: int
    mask: int
    name: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mask & IN_ISDIR)


def parse_events(buffer: bytes) -> list[InotifyEvent]:
    """The events in one read of an inotify descriptor; a truncated record ends the list."""
    events = []
    offset = 0
    while offset + _HEADER.size <= len(buffer):
        watch, mask, _cookie, length = _HEADER.unpack_from(buffer, offset)
        offset += _HEADER.size
        if offset + length > len(buffer):
            break
        raw = buffer[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        events.append(InotifyEvent(watch, mask, os.fsdecode(raw)))
    return events
