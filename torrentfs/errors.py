"""The one exception type for problems the user can fix.

A `UserError` is raised anywhere, caught once by the command line, and printed
as a single line with no traceback. Every other exception is a bug and keeps
its traceback.
"""

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the user's input or environment, described in one line."""
