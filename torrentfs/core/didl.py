"""DIDL-Lite: how a UPnP ContentDirectory describes folders and files to a TV. Pure.

A folder is a container; a video, audio or image file is an item with one `res` (its URL
and `protocolInfo`), and a video with a subtitle file beside it (same stem, `.srt`) gets
the subtitle twice, as Samsung (`sec:CaptionInfoEx`) and as LG and others (`res` of type
`text/srt`) look for it.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass

DIDL_NS = "urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/"
DC_NS = "http://purl.org/dc/elements/1.1/"
UPNP_NS = "urn:schemas-upnp-org:metadata-1-0/upnp/"
DLNA_NS = "urn:schemas-dlna-org:metadata-1-0/"
SEC_NS = "http://www.sec.co.kr/"
CONTAINER_CLASS = "object.container.storageFolder"
# DLNA 1.5: streaming transfer, background transfer, connection stalling (a paused TV keeps
# its connection), version 1.5.
DLNA_FLAGS = "01700000000000000000000000000000"
# Byte ranges (seek by Range), not time ranges; not transcoded.
DLNA_OPERATIONS = "DLNA.ORG_OP=01;DLNA.ORG_CI=0"


@dataclass(frozen=True)
class Container:
    object_id: str
    parent_id: str
    title: str
    child_count: int


@dataclass(frozen=True)
class Item:
    object_id: str
    parent_id: str
    title: str
    upnp_class: str
    mime: str
    size: int
    url: str
    # A subtitle file beside a video, by URL.
    subtitle_url: str | None = None


# The fourth field of `protocolInfo`, and the `contentFeatures.dlna.org` header. No DLNA
# profile name: TVs play what they can by MIME type.
CONTENT_FEATURES = f"{DLNA_OPERATIONS};DLNA.ORG_FLAGS={DLNA_FLAGS}"


def protocol_info(mime: str) -> str:
    return f"http-get:*:{mime}:{CONTENT_FEATURES}"


def didl_lite(objects: list[Container | Item]) -> str:
    """The DIDL-Lite document of `objects`, as the `Result` of a Browse."""
    root = ET.Element(
        "DIDL-Lite",
        {
            "xmlns": DIDL_NS,
            "xmlns:dc": DC_NS,
            "xmlns:upnp": UPNP_NS,
            "xmlns:dlna": DLNA_NS,
            "xmlns:sec": SEC_NS,
        },
    )
    for thing in objects:
        if isinstance(thing, Container):
            _container(root, thing)
        else:
            _item(root, thing)
    return ET.tostring(root, encoding="unicode")


def _container(root: ET.Element, container: Container) -> None:
    element = ET.SubElement(
        root,
        "container",
        {
            "id": container.object_id,
            "parentID": container.parent_id,
            "restricted": "1",
            "searchable": "0",
            "childCount": str(container.child_count),
        },
    )
    ET.SubElement(element, "dc:title").text = container.title
    ET.SubElement(element, "upnp:class").text = CONTAINER_CLASS


def _item(root: ET.Element, item: Item) -> None:
    element = ET.SubElement(
        root, "item", {"id": item.object_id, "parentID": item.parent_id, "restricted": "1"}
    )
    ET.SubElement(element, "dc:title").text = item.title
    ET.SubElement(element, "upnp:class").text = item.upnp_class
    if item.subtitle_url is not None:
        ET.SubElement(element, "sec:CaptionInfoEx", {"sec:type": "srt"}).text = item.subtitle_url
    res = ET.SubElement(
        element, "res", {"protocolInfo": protocol_info(item.mime), "size": str(item.size)}
    )
    res.text = item.url
    if item.subtitle_url is not None:
        subtitle = ET.SubElement(element, "res", {"protocolInfo": "http-get:*:text/srt:*"})
        subtitle.text = item.subtitle_url
