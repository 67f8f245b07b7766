"""Domain names as an admin types them, turned into what the CA and DNS expect.

Accepts IDN (converted to punycode with IDNA 2008) and a trailing dot; lowercases
everything; refuses what Let's Encrypt would refuse or what has no place in a
shell or a config file, with a message that says why.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

from .errors import BadInput
from .i18n import _

ROLES = ("admin", "client", "dealer")
ROLE_TITLES = {
    "admin": "ISPadmin administration interface",
    "client": "client portal",
    "dealer": "dealer portal",
}

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FORBIDDEN = set(";|&$`\\\"'<>(){}[]!#%^=,/:@~? \t\r\n")


def normalize_name(raw: str) -> str:
    """Return the ASCII (punycode), lowercase form of a host name, or raise BadInput."""
    text = host_of_url(raw.strip())
    if not text:
        raise BadInput(_("the domain name is empty"))
    if any(char.isspace() for char in text):
        raise BadInput(_("'{name}' contains a space; a domain name cannot").format(name=raw))
    if "*" in text:
        raise BadInput(_("'{name}' is a wildcard; wildcard certificates need DNS-01, this tool validates over HTTP "
                         "(port 80)").format(name=raw))
    if _is_ip_address(text):
        raise BadInput(_("'{name}' is an IP address; Let's Encrypt issues certificates for domain names "
                         "here").format(name=raw))
    bad = sorted({char for char in text if char in _FORBIDDEN})
    if bad:
        raise BadInput(_("'{name}' contains {characters}, which cannot appear in a domain name").format(
            name=raw, characters=" ".join(bad)))
    name = text[:-1] if text.endswith(".") else text
    ascii_name = _to_ascii(name, raw)
    _check_shape(ascii_name, raw)
    return ascii_name


def host_of_url(text: str) -> str:
    """The host name of a pasted URL (`https://admin.isp.cz/login` → `admin.isp.cz`); other text unchanged."""
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        return text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return text
    return host or text


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _to_ascii(name: str, raw: str) -> str:
    if name.isascii():
        return name.lower()
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as error:
        raise BadInput(_("'{name}' is not a valid internationalised domain name ({error})").format(
            name=raw, error=error)) from error


def _check_shape(name: str, raw: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput(_("'{name}' is {length} characters long; a domain name may have at most {limit}").format(
            name=raw, length=len(name), limit=MAX_NAME_LENGTH))
    labels = name.split(".")
    if len(labels) < 2:
        raise BadInput(_("'{name}' has no dot; give the full name, e.g. isp.example.net").format(name=raw))
    for label in labels:
        if not label:
            raise BadInput(_("'{name}' has an empty part (two dots in a row, or a leading dot)").format(name=raw))
        if len(label) > MAX_LABEL_LENGTH:
            raise BadInput(_("'{name}': the part '{part}…' is longer than {limit} characters").format(
                name=raw, part=label[:20], limit=MAX_LABEL_LENGTH))
        if not _LABEL.match(label):
            raise BadInput(_("'{name}': '{part}' is not a valid part of a domain name "
                             "(letters, digits and inner hyphens only)").format(name=raw, part=label))
    if labels[-1].isdigit():
        raise BadInput(_("'{name}' ends in a number; a top-level domain cannot").format(name=raw))


def display_name(ascii_name: str) -> str:
    """The Unicode form for messages, when the name is punycode."""
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name


def split_host_port(server: str, default_port: int = 53) -> tuple[str, int]:
    """A DNS server as typed: host, host:port, [v6] or [v6]:port."""
    if server.startswith("["):
        host, _separator, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if server.count(":") == 1:
        host, _separator, port = server.partition(":")
        return host, int(port)
    return server, default_port


def shown_name(ascii_name: str) -> str:
    """The name for the admin's eyes: an IDN as typed beside its punycode (`münchen.de (xn--mnchen-3ya.de)`)."""
    unicode_name = display_name(ascii_name)
    return ascii_name if unicode_name == ascii_name else f"{unicode_name} ({ascii_name})"
