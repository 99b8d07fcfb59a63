"""Parsing /proc/self/mountinfo."""

import pytest

from torrentfs.core import mountinfo

MOUNTINFO = """\
22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:21 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
26 22 0:22 / /run/user/1000 rw,nosuid shared:4 - tmpfs tmpfs rw,size=100k
27 22 0:23 / /data/my\\040disk rw shared:5 - xfs /dev/vdb rw
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dev/shm/torrentfs-0/12", "tmpfs"),
        ("/dev/shm", "tmpfs"),
        ("/dev/shmx", "ext4"),
        ("/run/user/1000/x", "tmpfs"),
        ("/data/my disk/a", "xfs"),
        ("/home/me", "ext4"),
    ],
)
def test_filesystem_type_is_that_of_the_deepest_mount(path, expected):
    assert mountinfo.filesystem_type(path, MOUNTINFO) == expected


def test_escaped_mount_points_are_read_as_paths():
    text = "30 22 0:40 / /mnt/a\\011b\\134c rw - fuse.torrentfs torrentfs:x ro\n"
    assert mountinfo.mounts(text) == [("/mnt/a\tb\\c", "fuse.torrentfs")]


def test_types_mounted_at_a_point_are_those_exactly_there():
    assert mountinfo.types_mounted_at("/dev/shm", MOUNTINFO) == ["tmpfs"]
    assert mountinfo.types_mounted_at("/dev/shm/x", MOUNTINFO) == []
    assert mountinfo.types_mounted_at("/data/my disk", MOUNTINFO) == ["xfs"]
