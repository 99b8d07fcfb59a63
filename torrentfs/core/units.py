"""Parsing of human-written sizes ("512M", "2G") and durations ("30s", "5m")."""

import re

from torrentfs.core.errors import UserError

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_size(text: str) -> int:
    """Bytes in `text`: a number with an optional binary suffix (K, M, G, T; "MiB" and "MB" too).

    Raises UserError for anything else.
    """
    match = _SIZE_RE.match(text)
    if not match:
        raise UserError(f"invalid size {text!r}: use a number with K, M, G or T, e.g. 512M or 2G")
    number, suffix = match.group(1), match.group(2).lower()
    return int(float(number) * _SIZE_FACTORS[suffix])


def parse_duration(text: str) -> float:
    """Seconds in `text`: a number with an optional unit (ms, s, m, h; seconds if none).

    Raises UserError for anything else.
    """
    match = _DURATION_RE.match(text)
    if not match:
        raise UserError(f"invalid duration {text!r}: use seconds, or a number with ms, s, m or h")
    number, unit = match.group(1), (match.group(2) or "s").lower()
    return float(number) * _DURATION_FACTORS[unit]
