"""Fuzzing, bounded in examples: the SOURCE parser and the FUSE read path."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torrentfs.core.errors import UserError
from torrentfs.core.source import Source, parse_peer, parse_source
from torrentfs_tools.loopback import magnet_for

T = TypeVar("T")
MAGNET_PARTS = st.sampled_from(
    ["xt=urn:btih:", "xt=urn:btmh:1220", "dn=", "tr=", "x.pe=", "&", "=", "%", "[", "]", ":"]
)
HEXISH = st.text(alphabet="0123456789abcdefABCDEFxyz%=&:[]/", max_size=70)


def _parsed_or_one_line_error(parse: Callable[[str], T], text: str) -> T | None:
    """What `parse` makes of `text`, or None once its UserError is checked to be one line."""
    try:
        return parse(text)
    except UserError as error:
        assert "\n" not in str(error)
        return None


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_any_text_is_a_source_or_a_one_line_error(text):
    source = _parsed_or_one_line_error(parse_source, text)
    if source is not None:
        assert isinstance(source, Source)


@settings(max_examples=500)
@given(st.lists(st.one_of(MAGNET_PARTS, HEXISH), max_size=12))
def test_any_magnet_is_a_source_or_a_one_line_error(parts):
    source = _parsed_or_one_line_error(parse_source, "magnet:?" + "".join(parts))
    if source is not None:
        assert source.info_hash_v1 or source.info_hash_v2


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_peer_text_is_a_peer_or_a_one_line_error(text):
    peer = _parsed_or_one_line_error(parse_peer, text)
    if peer is not None:
        assert 0 < peer.port < 65536 and peer.host


@pytest.mark.mount
def test_fuse_reads_at_any_offset_and_size_return_exactly_the_files_bytes(
    single_file, seeder_for, mount
):
    seeder = seeder_for(single_file)
    mounted = mount(magnet_for(single_file.data, [seeder.endpoint]), "--cache-size", "16M")
    original = single_file.root.read_bytes()
    fd = os.open(Path(mounted.mountpoint) / "movie.bin", os.O_RDONLY)
    try:

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            offset=st.integers(0, len(original) + 5000),
            size=st.integers(0, 3 * single_file.piece_length + 7),
        )
        def read_matches(offset: int, size: int) -> None:
            assert os.pread(fd, size, offset) == original[offset : offset + size]

        read_matches()
    finally:
        os.close(fd)
    assert mounted.unmount() == 0
