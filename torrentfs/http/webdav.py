"""WebDAV's read-only answers (RFC 4918, class 1): PROPFIND's multistatus document.

Built with the standard library's XML module: the WebDAV libraries for Python
(WsgiDAV) are WSGI, answering from a thread per request, where a read of a
torrent must wait on the mount's trio loop; PROPFIND of a read-only tree is a
short document, and the rest of the protocol here is refusing writes.
"""

from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote
from xml.etree import ElementTree as ET

DAV = "DAV:"
ET.register_namespace("D", DAV)
# Clients send Depth 0 or 1; infinity is refused, as most servers do (a library's tree
# may hold hundreds of thousands of entries).
DEPTHS = ("0", "1")
WRITE_METHODS = frozenset(
    {"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK", "POST", "PATCH"}
)


@dataclass(frozen=True)
class Entry:
    """One resource as PROPFIND describes it."""

    href_path: str  # from the server's root, unquoted ("/dav/Show/e1.mkv")
    name: str
    is_dir: bool
    size: int
    mtime_s: float
    etag: str
    content_type: str


def multistatus(entries: list[Entry]) -> bytes:
    root = ET.Element(f"{{{DAV}}}multistatus")
    for entry in entries:
        response = ET.SubElement(root, f"{{{DAV}}}response")
        href = quote(entry.href_path) + ("/" if entry.is_dir and entry.href_path != "/" else "")
        ET.SubElement(response, f"{{{DAV}}}href").text = href.replace("//", "/")
        propstat = ET.SubElement(response, f"{{{DAV}}}propstat")
        prop = ET.SubElement(propstat, f"{{{DAV}}}prop")
        ET.SubElement(prop, f"{{{DAV}}}displayname").text = entry.name
        kind = ET.SubElement(prop, f"{{{DAV}}}resourcetype")
        if entry.is_dir:
            ET.SubElement(kind, f"{{{DAV}}}collection")
        else:
            ET.SubElement(prop, f"{{{DAV}}}getcontentlength").text = str(entry.size)
            ET.SubElement(prop, f"{{{DAV}}}getcontenttype").text = entry.content_type
            ET.SubElement(prop, f"{{{DAV}}}getetag").text = entry.etag
        modified = formatdate(entry.mtime_s, usegmt=True)
        ET.SubElement(prop, f"{{{DAV}}}getlastmodified").text = modified
        ET.SubElement(propstat, f"{{{DAV}}}status").text = "HTTP/1.1 200 OK"
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def finite_depth_required() -> bytes:
    root = ET.Element(f"{{{DAV}}}error")
    ET.SubElement(root, f"{{{DAV}}}propfind-finite-depth")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
