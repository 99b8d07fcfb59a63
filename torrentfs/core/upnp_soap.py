"""SOAP as UPnP control uses it: an action call read, its answer or fault written. Pure.

The body is parsed with defusedxml: no DTD, no entity, so no entity expansion and no
file or URL read on a client's behalf. A fault goes with HTTP 500, as the UPnP Device
Architecture has it: control points read the fault only from such an answer.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
CONTROL_NS = "urn:schemas-upnp-org:control-1-0"
FAULT_STATUS = 500
# UPnP error codes (Device Architecture 1.0, ContentDirectory:1).
INVALID_ACTION = 401
INVALID_ARGS = 402
ACTION_FAILED = 501
ARGUMENT_VALUE_INVALID = 600
NO_SUCH_OBJECT = 701
NO_SUCH_CONNECTION = 706


class UpnpFault(Exception):
    """An action that cannot be done: its UPnP error code and description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class NotSoap(ValueError):
    """A body that is no SOAP action call at all (an HTTP 400)."""


@dataclass(frozen=True)
class ActionCall:
    service_type: str
    action: str
    arguments: dict[str, str]


def read_call(body: bytes) -> ActionCall:
    """The action call in `body`; raises NotSoap if it holds none."""
    try:
        envelope = SafeET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise NotSoap(f"not XML: {error}") from None
    if envelope.tag != f"{{{SOAP_ENVELOPE_NS}}}Envelope":
        raise NotSoap("not a SOAP envelope")
    soap_body = envelope.find(f"{{{SOAP_ENVELOPE_NS}}}Body")
    if soap_body is None or len(soap_body) == 0:
        raise NotSoap("a SOAP envelope without an action")
    call = soap_body[0]
    namespace, _, action = call.tag[1:].partition("}") if call.tag.startswith("{") else ("", "", "")
    if not namespace or not action:
        raise NotSoap("an action without its service's namespace")
    arguments = {_local(argument.tag): argument.text or "" for argument in call}
    return ActionCall(namespace, action, arguments)


def answer(call: ActionCall, out: list[tuple[str, str]]) -> str:
    """The SOAP answer to `call` with its out arguments, in order."""
    values = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in out)
    return _envelope(
        f'<u:{call.action}Response xmlns:u="{escape(call.service_type)}">'
        f"{values}</u:{call.action}Response>"
    )


def fault(code: int, description: str) -> str:
    return _envelope(
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>"
        f'<detail><UPnPError xmlns="{CONTROL_NS}"><errorCode>{code}</errorCode>'
        f"<errorDescription>{escape(description)}</errorDescription></UPnPError></detail>"
        "</s:Fault>"
    )


def _envelope(inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<s:Envelope xmlns:s="{SOAP_ENVELOPE_NS}" s:encodingStyle="{SOAP_ENCODING}">'
        f"<s:Body>{inner}</s:Body></s:Envelope>"
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
