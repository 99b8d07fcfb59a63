from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.core.tree import ROOT_INODE, FileTree, sanitize_name


def _layout(*paths_and_sizes, padding=()):
    files, offset = [], 0
    for index, (path, size) in enumerate(paths_and_sizes):
        files.append(FileEntry(index, tuple(path.split("/")), offset, size, index in padding))
        offset += size
    return TorrentLayout("t", 16, max(offset, 1), tuple(files))


def _paths(tree: FileTree) -> set[str]:
    return {tree.path_of(node.inode) for node in tree.files()}


def test_nested_folders_and_lookups():
    tree = FileTree(_layout(("a/b/c.txt", 5), ("a/d.txt", 0), ("e.mkv", 100)))
    assert _paths(tree) == {"a/b/c.txt", "a/d.txt", "e.mkv"}
    assert [n.name for n in tree.children(ROOT_INODE)] == ["a", "e.mkv"]
    a = tree.lookup(ROOT_INODE, "a")
    assert a is not None and a.is_dir and a.subdirs == 1
    empty = tree.lookup(a.inode, "d.txt")
    assert empty is not None and empty.file is not None and empty.file.size == 0
    assert tree.lookup(ROOT_INODE, "missing") is None
    movie = tree.lookup(ROOT_INODE, "e.mkv")
    assert movie is not None and tree.lookup(movie.inode, "x") is None


def test_padding_files_are_hidden():
    tree = FileTree(_layout(("a.bin", 10), (".pad/6", 6), ("b.bin", 3), padding={1}))
    assert _paths(tree) == {"a.bin", "b.bin"}


def test_hostile_names_stay_inside():
    tree = FileTree(
        _layout(("../../etc/passwd", 1), ("/abs", 1), ("a/./b", 1), ("x" * 300, 1), ("", 1))
    )
    for path in _paths(tree):
        parts = path.split("/")
        assert ".." not in parts and "" not in parts and "." not in parts
        assert all(len(p.encode()) <= 255 for p in parts)
    assert len(list(tree.files())) == 5


def test_duplicate_names_get_distinct_entries():
    tree = FileTree(_layout(("dup.txt", 1), ("dup.txt", 2), ("dup.txt", 3), ("d", 1), ("d/x", 1)))
    assert _paths(tree) == {"dup.txt", "dup (2).txt", "dup (3).txt", "d", "d (2)/x"}


def test_inodes_follow_the_torrent_order_and_are_stable():
    layout = _layout(("z/1", 1), ("a/2", 1), ("3", 1))
    first, second = FileTree(layout), FileTree(layout)
    assert {first.path_of(n.inode): n.inode for n in first.files()} == {
        second.path_of(n.inode): n.inode for n in second.files()
    }
    assert len(first) == 6  # root, z, z/1, a, a/2, 3


def test_sanitize_name():
    assert sanitize_name("a/b\0c") == "a_b_c"
    assert sanitize_name("..") == "_"
    assert sanitize_name("é" * 200).encode() == ("é" * 127).encode()
