"""What a UPnP control point reads about this server: the device description (a
MediaServer:1 with a ContentDirectory:1 and a ConnectionManager:1) and each service's
description (SCPD). Pure; the URLs are relative to the description's own.
"""

from dataclasses import dataclass
from xml.sax.saxutils import escape

DEVICE_TYPE = "urn:schemas-upnp-org:device:MediaServer:1"
CONTENT_DIRECTORY = "urn:schemas-upnp-org:service:ContentDirectory:1"
CONNECTION_MANAGER = "urn:schemas-upnp-org:service:ConnectionManager:1"
DLNA_PREFIX = "/dlna"
DESCRIPTION_PATH = f"{DLNA_PREFIX}/device.xml"
MANUFACTURER = "torrentfs"
MODEL = "torrentfs"


@dataclass(frozen=True)
class Service:
    service_type: str
    service_id: str
    # The path part of its URLs: /dlna/NAME.xml, /dlna/control/NAME, /dlna/event/NAME.
    name: str

    @property
    def scpd_path(self) -> str:
        return f"{DLNA_PREFIX}/{self.name}.xml"

    @property
    def control_path(self) -> str:
        return f"{DLNA_PREFIX}/control/{self.name}"

    @property
    def event_path(self) -> str:
        return f"{DLNA_PREFIX}/event/{self.name}"


SERVICES = (
    Service(CONTENT_DIRECTORY, "urn:upnp-org:serviceId:ContentDirectory", "ContentDirectory"),
    Service(CONNECTION_MANAGER, "urn:upnp-org:serviceId:ConnectionManager", "ConnectionManager"),
)
# The notification types SSDP announces and answers for, besides the device's uuid.
NOTIFICATION_TYPES = ("upnp:rootdevice", DEVICE_TYPE, *(s.service_type for s in SERVICES))


def device_description(uuid: str, friendly_name: str, version: str) -> str:
    services = "".join(
        f"<service><serviceType>{s.service_type}</serviceType>"
        f"<serviceId>{s.service_id}</serviceId><SCPDURL>{s.scpd_path}</SCPDURL>"
        f"<controlURL>{s.control_path}</controlURL>"
        f"<eventSubURL>{s.event_path}</eventSubURL></service>"
        for s in SERVICES
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0" '
        'xmlns:dlna="urn:schemas-dlna-org:device-1-0" xmlns:sec="http://www.sec.co.kr/dlna">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        f"<deviceType>{DEVICE_TYPE}</deviceType>"
        f"<friendlyName>{escape(friendly_name)}</friendlyName>"
        f"<manufacturer>{MANUFACTURER}</manufacturer><modelName>{MODEL}</modelName>"
        f"<modelNumber>{escape(version)}</modelNumber><UDN>uuid:{uuid}</UDN>"
        '<dlna:X_DLNADOC xmlns:dlna="urn:schemas-dlna-org:device-1-0">DMS-1.50</dlna:X_DLNADOC>'
        "<sec:ProductCap>smi,DCM10,getMediaInfo.sec,getCaptionInfo.sec</sec:ProductCap>"
        f"<serviceList>{services}</serviceList></device></root>"
    )


# (name, data type, sends events, allowed values)
_Variable = tuple[str, str, bool, tuple[str, ...]]
# (name, [(argument, direction, related state variable)])
_Action = tuple[str, list[tuple[str, str, str]]]

_CONTENT_DIRECTORY_VARIABLES: list[_Variable] = [
    ("A_ARG_TYPE_ObjectID", "string", False, ()),
    ("A_ARG_TYPE_Result", "string", False, ()),
    ("A_ARG_TYPE_BrowseFlag", "string", False, ("BrowseMetadata", "BrowseDirectChildren")),
    ("A_ARG_TYPE_Filter", "string", False, ()),
    ("A_ARG_TYPE_SortCriteria", "string", False, ()),
    ("A_ARG_TYPE_Index", "ui4", False, ()),
    ("A_ARG_TYPE_Count", "ui4", False, ()),
    ("A_ARG_TYPE_UpdateID", "ui4", False, ()),
    ("SearchCapabilities", "string", False, ()),
    ("SortCapabilities", "string", False, ()),
    ("SystemUpdateID", "ui4", True, ()),
    ("A_ARG_TYPE_Featurelist", "string", False, ()),
]
_CONTENT_DIRECTORY_ACTIONS: list[_Action] = [
    ("Browse", [
        ("ObjectID", "in", "A_ARG_TYPE_ObjectID"),
        ("BrowseFlag", "in", "A_ARG_TYPE_BrowseFlag"),
        ("Filter", "in", "A_ARG_TYPE_Filter"),
        ("StartingIndex", "in", "A_ARG_TYPE_Index"),
        ("RequestedCount", "in", "A_ARG_TYPE_Count"),
        ("SortCriteria", "in", "A_ARG_TYPE_SortCriteria"),
        ("Result", "out", "A_ARG_TYPE_Result"),
        ("NumberReturned", "out", "A_ARG_TYPE_Count"),
        ("TotalMatches", "out", "A_ARG_TYPE_Count"),
        ("UpdateID", "out", "A_ARG_TYPE_UpdateID"),
    ]),
    ("GetSearchCapabilities", [("SearchCaps", "out", "SearchCapabilities")]),
    ("GetSortCapabilities", [("SortCaps", "out", "SortCapabilities")]),
    ("GetSystemUpdateID", [("Id", "out", "SystemUpdateID")]),
    ("X_GetFeatureList", [("FeatureList", "out", "A_ARG_TYPE_Featurelist")]),
]  # fmt: skip
_CONNECTION_MANAGER_VARIABLES: list[_Variable] = [
    ("SourceProtocolInfo", "string", True, ()),
    ("SinkProtocolInfo", "string", True, ()),
    ("CurrentConnectionIDs", "string", True, ()),
    ("A_ARG_TYPE_ConnectionStatus", "string", False,
     ("OK", "ContentFormatMismatch", "InsufficientBandwidth", "UnreliableChannel", "Unknown")),
    ("A_ARG_TYPE_ConnectionManager", "string", False, ()),
    ("A_ARG_TYPE_Direction", "string", False, ("Input", "Output")),
    ("A_ARG_TYPE_ProtocolInfo", "string", False, ()),
    ("A_ARG_TYPE_ConnectionID", "i4", False, ()),
    ("A_ARG_TYPE_AVTransportID", "i4", False, ()),
    ("A_ARG_TYPE_RcsID", "i4", False, ()),
]  # fmt: skip
_CONNECTION_MANAGER_ACTIONS: list[_Action] = [
    ("GetProtocolInfo", [
        ("Source", "out", "SourceProtocolInfo"), ("Sink", "out", "SinkProtocolInfo"),
    ]),
    ("GetCurrentConnectionIDs", [("ConnectionIDs", "out", "CurrentConnectionIDs")]),
    ("GetCurrentConnectionInfo", [
        ("ConnectionID", "in", "A_ARG_TYPE_ConnectionID"),
        ("RcsID", "out", "A_ARG_TYPE_RcsID"),
        ("AVTransportID", "out", "A_ARG_TYPE_AVTransportID"),
        ("ProtocolInfo", "out", "A_ARG_TYPE_ProtocolInfo"),
        ("PeerConnectionManager", "out", "A_ARG_TYPE_ConnectionManager"),
        ("PeerConnectionID", "out", "A_ARG_TYPE_ConnectionID"),
        ("Direction", "out", "A_ARG_TYPE_Direction"),
        ("Status", "out", "A_ARG_TYPE_ConnectionStatus"),
    ]),
]  # fmt: skip


def service_description(service_type: str) -> str | None:
    """The SCPD of one of this server's services; None for any other."""
    if service_type == CONTENT_DIRECTORY:
        return _scpd(_CONTENT_DIRECTORY_ACTIONS, _CONTENT_DIRECTORY_VARIABLES)
    if service_type == CONNECTION_MANAGER:
        return _scpd(_CONNECTION_MANAGER_ACTIONS, _CONNECTION_MANAGER_VARIABLES)
    return None


def _scpd(actions: list[_Action], variables: list[_Variable]) -> str:
    action_list = "".join(
        f"<action><name>{name}</name><argumentList>"
        + "".join(
            f"<argument><name>{argument}</name><direction>{direction}</direction>"
            f"<relatedStateVariable>{variable}</relatedStateVariable></argument>"
            for argument, direction, variable in arguments
        )
        + "</argumentList></action>"
        for name, arguments in actions
    )
    variable_list = "".join(
        f'<stateVariable sendEvents="{"yes" if events else "no"}"><name>{name}</name>'
        f"<dataType>{data_type}</dataType>"
        + (
            "<allowedValueList>"
            + "".join(f"<allowedValue>{value}</allowedValue>" for value in allowed)
            + "</allowedValueList>"
            if allowed
            else ""
        )
        + "</stateVariable>"
        for name, data_type, events, allowed in variables
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<scpd xmlns="urn:schemas-upnp-org:service-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion>"
        f"<actionList>{action_list}</actionList>"
        f"<serviceStateTable>{variable_list}</serviceStateTable></scpd>"
    )
