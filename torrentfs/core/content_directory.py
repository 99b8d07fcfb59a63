"""UPnP ContentDirectory:1 and ConnectionManager:1 over a mount's tree: what each action
answers. Pure: the tree is read, never a torrent's data, so browsing starts nothing.

Object IDs are the tree's inode numbers, the root being "0" as the standard wants.
Folders are containers; video, audio and image files are items; a subtitle file beside a
video goes with the video rather than on its own.
"""

from collections.abc import Callable
from typing import Protocol

from torrentfs.core.didl import Container, Item, didl_lite, protocol_info
from torrentfs.core.media_types import content_type, upnp_class
from torrentfs.core.media_types import subtitle_for as subtitle_name
from torrentfs.core.tree import ROOT_INODE, Node
from torrentfs.core.upnp_soap import (
    ARGUMENT_VALUE_INVALID,
    INVALID_ACTION,
    INVALID_ARGS,
    NO_SUCH_CONNECTION,
    NO_SUCH_OBJECT,
    UpnpFault,
)

ROOT_ID = "0"
ROOT_PARENT_ID = "-1"
UI4_MAX = 2**32 - 1
BROWSE_METADATA = "BrowseMetadata"
BROWSE_CHILDREN = "BrowseDirectChildren"
# What GetProtocolInfo lists: the common kinds (a file of any other is served all the same).
SOURCE_TYPES = (
    "video/mp4", "video/x-matroska", "video/mp2t", "video/webm", "video/x-msvideo",
    "video/quicktime", "audio/mpeg", "audio/flac", "audio/mp4", "image/jpeg", "image/png",
)  # fmt: skip
# Samsung's "basic view": where its TVs find videos, music and pictures; here, everything
# is under the root.
SAMSUNG_FEATURES = (
    '<?xml version="1.0" encoding="UTF-8"?><Features xmlns="urn:schemas-upnp-org:av:avs">'
    '<Feature name="samsung.com_BASICVIEW" version="1">'
    + "".join(f'<container id="{ROOT_ID}" type="object.item.{kind}Item"/>'
              for kind in ("audio", "video", "image"))
    + "</Feature></Features>"
)  # fmt: skip
# ConnectionManager: the one connection there is without PrepareForConnection.
CONNECTION_ID = "0"


class BrowsableTree(Protocol):
    def node(self, inode: int) -> Node | None: ...

    def children(self, inode: int) -> list[Node]: ...


# The URL an item's bytes are served at: (object id, file name) -> URL.
UrlOf = Callable[[str, str], str]


def object_id(node: Node) -> str:
    return ROOT_ID if node.inode == ROOT_INODE else str(node.inode)


def browse(
    tree: BrowsableTree, arguments: dict[str, str], url_of: UrlOf, update_id: int
) -> list[tuple[str, str]]:
    """Browse's out arguments; raises UpnpFault for arguments it cannot answer."""
    node = _node(tree, _argument(arguments, "ObjectID"))
    flag = _argument(arguments, "BrowseFlag")
    start = _ui4(arguments.get("StartingIndex", "0"), "StartingIndex")
    count = _ui4(arguments.get("RequestedCount", "0"), "RequestedCount")
    if flag == BROWSE_METADATA:
        objects = [_describe(tree, node, url_of)]
        total = 1
    elif flag == BROWSE_CHILDREN:
        if not node.is_dir:
            raise UpnpFault(ARGUMENT_VALUE_INVALID, "an item has no children")
        shown = _shown_children(tree, node)
        total = len(shown)
        page = shown[start : start + count] if count else shown[start:]
        objects = [_describe(tree, child, url_of) for child in page]
    else:
        raise UpnpFault(INVALID_ARGS, f"BrowseFlag is neither {BROWSE_METADATA} nor "
                        f"{BROWSE_CHILDREN}")  # fmt: skip
    return [
        ("Result", didl_lite(objects)),
        ("NumberReturned", str(len(objects))),
        ("TotalMatches", str(total)),
        ("UpdateID", str(update_id)),
    ]


def content_directory(
    tree: BrowsableTree, action: str, arguments: dict[str, str], url_of: UrlOf, update_id: int
) -> list[tuple[str, str]]:
    """ContentDirectory:1's answer to `action`; raises UpnpFault."""
    if action == "Browse":
        return browse(tree, arguments, url_of, update_id)
    if action == "GetSearchCapabilities":
        return [("SearchCaps", "")]
    if action == "GetSortCapabilities":
        return [("SortCaps", "")]
    if action == "GetSystemUpdateID":
        return [("Id", str(update_id))]
    if action == "X_GetFeatureList":
        # Samsung TVs ask for this before they browse, and show nothing if it fails.
        return [("FeatureList", SAMSUNG_FEATURES)]
    raise UpnpFault(INVALID_ACTION, f"no action {action} in ContentDirectory")


def connection_manager(action: str, arguments: dict[str, str]) -> list[tuple[str, str]]:
    """ConnectionManager:1's answer to `action`; raises UpnpFault."""
    if action == "GetProtocolInfo":
        return [("Source", source_protocols()), ("Sink", "")]
    if action == "GetCurrentConnectionIDs":
        return [("ConnectionIDs", CONNECTION_ID)]
    if action == "GetCurrentConnectionInfo":
        if _argument(arguments, "ConnectionID") != CONNECTION_ID:
            raise UpnpFault(NO_SUCH_CONNECTION, "no such connection")
        return [
            ("RcsID", "-1"),
            ("AVTransportID", "-1"),
            ("ProtocolInfo", ""),
            ("PeerConnectionManager", ""),
            ("PeerConnectionID", "-1"),
            ("Direction", "Output"),
            ("Status", "OK"),
        ]
    raise UpnpFault(INVALID_ACTION, f"no action {action} in ConnectionManager")


def source_protocols() -> str:
    """The kinds of media this server sends, as GetProtocolInfo lists them."""
    return ",".join(protocol_info(mime) for mime in SOURCE_TYPES)


def _shown_children(tree: BrowsableTree, node: Node) -> list[Node]:
    """Folders and media files, by name as a person sorts them."""
    shown = [child for child in tree.children(node.inode) if _shown(child)]
    return sorted(shown, key=lambda child: (child.name.casefold(), child.name))


def _shown(node: Node) -> bool:
    return node.is_dir or upnp_class(node.name) is not None


def _describe(tree: BrowsableTree, node: Node, url_of: UrlOf) -> Container | Item:
    parent_id = ROOT_PARENT_ID if node.inode == ROOT_INODE else _parent_id(node)
    if node.is_dir:
        count = len(_shown_children(tree, node))
        return Container(object_id(node), parent_id, node.name or "torrentfs", count)
    assert node.file is not None
    kind = upnp_class(node.name)
    assert kind is not None
    subtitle = _subtitle(tree, node) if kind.startswith("object.item.videoItem") else None
    return Item(
        object_id(node),
        parent_id,
        node.name,
        kind,
        content_type(node.name),
        node.file.size,
        url_of(object_id(node), node.name),
        url_of(object_id(subtitle), subtitle.name) if subtitle is not None else None,
    )


def _subtitle(tree: BrowsableTree, video: Node) -> Node | None:
    wanted = subtitle_name(video.name)
    for sibling in tree.children(video.parent):
        if sibling.name == wanted and not sibling.is_dir:
            return sibling
    return None


def _parent_id(node: Node) -> str:
    return ROOT_ID if node.parent == ROOT_INODE else str(node.parent)


def file_node(tree: BrowsableTree, text: str) -> Node | None:
    """The file object `text` names (any file, a subtitle too: what a `res` URL serves)."""
    inode = _inode(text)
    node = tree.node(inode) if inode is not None else None
    return node if node is not None and not node.is_dir else None


def _node(tree: BrowsableTree, text: str) -> Node:
    inode = ROOT_INODE if text == ROOT_ID else _inode(text)
    node = tree.node(inode) if inode is not None else None
    if node is None or (inode != ROOT_INODE and not _shown(node)):
        raise UpnpFault(NO_SUCH_OBJECT, "no such object")
    return node


def _inode(text: str) -> int | None:
    if not text.isdigit() or not text.isascii():
        return None
    inode = int(text)
    return inode if inode != ROOT_INODE else None


def _argument(arguments: dict[str, str], name: str) -> str:
    if name not in arguments:
        raise UpnpFault(INVALID_ARGS, f"{name} is missing")
    return arguments[name]


def _ui4(text: str, name: str) -> int:
    value = text.strip()
    if not value.isdigit() or not value.isascii() or int(value) > UI4_MAX:
        raise UpnpFault(INVALID_ARGS, f"{name} is not an unsigned 32-bit number")
    return int(value)
