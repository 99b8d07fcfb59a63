"""The `Range` header of an HTTP request, as RFC 9110 (section 14) reads it. Pure.

One range of bytes is served as 206; a header that does not parse, names
another unit or asks for several ranges is ignored (the whole file, 200), as
the RFC allows; a range that starts past the end is unsatisfiable (416).
"""

from dataclasses import dataclass

# Longer headers are not ranges anyone sends; they are ignored, not parsed.
MAX_RANGE_HEADER_BYTES = 1024


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` inclusive, as Content-Range counts them."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(Exception):
    """No byte of the range is in the file: answer 416 with `bytes */SIZE`."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to serve of a file of `size` bytes, or None for the whole file;
    raises Unsatisfiable."""
    if header is None or len(header) > MAX_RANGE_HEADER_BYTES:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or (not _digits(first) and not _digits(last)):
        return None
    if not first:
        if not _digits(last):
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    if not _digits(first) or (last and not _digits(last)):
        return None
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1))


def _digits(text: str) -> bool:
    # isdigit() is true of "²" and other digits int() refuses.
    return bool(text) and text.isascii() and text.isdigit()
