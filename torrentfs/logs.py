"""Log records to stderr: timestamped in a terminal, syslog-prefixed for the journal.

Under systemd (`JOURNAL_STREAM` set) the journal adds its own timestamps, and
a `<N>` prefix tells it each line's priority.
"""

import logging
import os
import sys

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
# syslog priorities (sd-daemon.h) of Python's levels.
_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
_CRITICAL_PRIORITY = 2


class JournalFormatter(logging.Formatter):
    """Each line prefixed with its syslog priority, as journald reads it."""

    def __init__(self) -> None:
        super().__init__(_JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, _CRITICAL_PRIORITY)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def configure_logging(level: int) -> None:
    """Send torrentfs's logs at `level` and above to stderr, replacing any earlier set-up."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TERMINAL_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pyfuse3 reports every request at debug level; keep only its warnings unless debugging.
    logging.getLogger("pyfuse3").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    )
