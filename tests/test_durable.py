"""Files written whole: the new bytes or the old, and nothing half-written left beside them."""

import os

import pytest

from torrentfs.core.durable import write_whole


def test_a_file_is_written_whole_and_replaced_whole(tmp_path):
    path = tmp_path / "resume.dat"
    write_whole(path, b"first")
    write_whole(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    assert os.listdir(tmp_path) == ["resume.dat"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    path = tmp_path / "a.torrent"
    write_whole(path, b"old")
    with pytest.raises(TypeError):
        write_whole(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.torrent"]
