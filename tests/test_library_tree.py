from torrentfs.core.layout import FileEntry, TorrentLayout
from torrentfs.core.library_tree import LibraryTree, library_inode, split_inode
from torrentfs.core.tree import ROOT_INODE, FileTree


def _tree(*paths: str) -> FileTree:
    files = tuple(FileEntry(i, tuple(p.split("/")), i * 10, 10) for i, p in enumerate(paths))
    return FileTree(TorrentLayout("t", 16, 10 * len(paths), files))


def test_each_torrent_is_a_folder_holding_its_own_tree():
    library = LibraryTree()
    assert library.add(1, "Movie", _tree("movie.mkv")) == "Movie"
    assert library.add(2, "Album", _tree("CD1/a.flac", "cover.jpg")) == "Album"
    assert [n.name for n in library.children(ROOT_INODE)] == ["Album", "Movie"]
    album = library.lookup(ROOT_INODE, "Album")
    assert album is not None and album.is_dir and album.parent == ROOT_INODE
    assert split_inode(album.inode) == (2, ROOT_INODE)
    cd1 = library.lookup(album.inode, "CD1")
    assert cd1 is not None and cd1.parent == album.inode
    track = library.lookup(cd1.inode, "a.flac")
    assert track is not None and track.file is not None and track.file.index == 0
    assert library.node(track.inode) == track
    movie = library.lookup(ROOT_INODE, "Movie")
    assert movie is not None
    assert [n.name for n in library.children(movie.inode)] == ["movie.mkv"]


def test_same_names_get_a_number_and_a_removed_torrent_disappears():
    library = LibraryTree()
    library.add(1, "Same", _tree("a"))
    assert library.add(2, "Same", _tree("b")) == "Same (2)"
    assert library.add(3, "../x/y", None) == ".._x_y"
    library.remove(1)
    assert [n.name for n in library.children(ROOT_INODE)] == [".._x_y", "Same (2)"]
    assert library.node(library_inode(1, ROOT_INODE)) is None
    assert library.lookup(ROOT_INODE, "Same") is None


def test_a_torrent_without_metadata_has_an_empty_folder_until_its_tree_comes():
    library = LibraryTree()
    library.add(7, "magnet", None)
    folder = library.lookup(ROOT_INODE, "magnet")
    assert folder is not None and folder.is_dir and library.children(folder.inode) == []
    assert library.node(library_inode(7, 2)) is None
    library.set_tree(7, _tree("file.bin"))
    assert [n.name for n in library.children(folder.inode)] == ["file.bin"]


def test_a_renamed_folder_keeps_its_inode_and_takes_a_free_name():
    library = LibraryTree()
    library.add(1, "Film", _tree("a"))
    library.add(2, "0123abcd", None)
    assert library.rename(2, "Film") == "Film (2)"
    assert [n.name for n in library.children(ROOT_INODE)] == ["Film", "Film (2)"]
    assert library.lookup(ROOT_INODE, "0123abcd") is None
    renamed = library.lookup(ROOT_INODE, "Film (2)")
    assert renamed is not None and renamed.inode == library_inode(2, ROOT_INODE)


class _Heard:
    def __init__(self) -> None:
        self.gone: list[tuple[int, str]] = []
        self.changed: list[int] = []

    def entry_gone(self, parent_inode: int, name: str) -> None:
        self.gone.append((parent_inode, name))

    def node_changed(self, inode: int) -> None:
        self.changed.append(inode)


def test_subfolders_hold_torrents_and_go_with_the_last_one():
    library = LibraryTree()
    heard = _Heard()
    library.changes = heard
    library.add(1, "Show", _tree("e1.mkv"), "tv/drama")
    library.add(2, "Film", _tree("film.mkv"), "movies")
    assert [n.name for n in library.children(ROOT_INODE)] == ["movies", "tv"]
    tv = library.lookup(ROOT_INODE, "tv")
    assert tv is not None and tv.is_dir
    drama = library.lookup(tv.inode, "drama")
    assert drama is not None and drama.parent == tv.inode
    show = library.lookup(drama.inode, "Show")
    assert show is not None and show.parent == drama.inode
    assert library.path_of(1) == "tv/drama/Show" and library.place_of(1) == "tv/drama"
    assert library.node(show.inode) == show
    library.move(1, "movies")
    assert library.lookup(ROOT_INODE, "tv") is None
    assert library.node(tv.inode) is None
    assert (ROOT_INODE, "tv") in heard.gone and (drama.inode, "Show") in heard.gone
    movies = library.lookup(ROOT_INODE, "movies")
    assert movies is not None
    moved = library.lookup(movies.inode, "Show")
    assert moved is not None and moved.inode == show.inode
    library.set_tree(2, _tree("other.mkv"))
    assert library_inode(2, ROOT_INODE) in heard.changed
