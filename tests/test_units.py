import pytest

from torrentfs.core.errors import UserError
from torrentfs.core.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("4096", 4096),
        ("512K", 512 << 10),
        ("512M", 512 << 20),
        ("2G", 2 << 30),
        ("1.5G", 3 << 29),
        ("256MiB", 256 << 20),
        ("256mb", 256 << 20),
        (" 1T ", 1 << 40),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "M", "-1M", "12X", "1,5G", "lots"])
def test_parse_size_rejects_nonsense(text):
    with pytest.raises(UserError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20", 20.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25), ("1.5s", 1.5)],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "s", "-3s", "3 days", "forever"])
def test_parse_duration_rejects_nonsense(text):
    with pytest.raises(UserError, match="invalid duration"):
        parse_duration(text)
