"""The one exception type for problems the user can fix.

A `UserError` is raised anywhere, caught once by the command line, and printed
as a single line with no traceback. Every other exception is a bug and keeps
its traceback.
"""

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the user's input or environment, described in one line."""

    def __init__(self, message: str) -> None:
        # User input quoted in the message may hold newlines or other control
        # characters; shown escaped, the message stays one line.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


class DuplicateTorrent(UserError):
    """A torrent added to a session that already holds it (`info_hash`)."""

    def __init__(self, message: str, info_hash: str) -> None:
        super().__init__(message)
        self.info_hash = info_hash
