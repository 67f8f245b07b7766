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
        raise BadInput("the domain name is empty")
    if any(char.isspace() for char in text):
        raise BadInput(f"'{raw}' contains a space; a domain name cannot")
    if "*" in text:
        raise BadInput(f"'{raw}' is a wildcard; wildcard certificates need DNS-01, this tool validates over HTTP (port 80)")
    if _is_ip_address(text):
        raise BadInput(f"'{raw}' is an IP address; Let's Encrypt issues certificates for domain names here")
    bad = sorted({char for char in text if char in _FORBIDDEN})
    if bad:
        raise BadInput(f"'{raw}' contains {' '.join(bad)}, which cannot appear in a domain name")
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
        raise BadInput(f"'{raw}' is not a valid internationalised domain name ({error})") from error


def _check_shape(name: str, raw: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput(f"'{raw}' is {len(name)} characters long; a domain name may have at most {MAX_NAME_LENGTH}")
    labels = name.split(".")
    if len(labels) < 2:
        raise BadInput(f"'{raw}' has no dot; give the full name, e.g. isp.example.net")
    for label in labels:
        if not label:
            raise BadInput(f"'{raw}' has an empty part (two dots in a row, or a leading dot)")
        if len(label) > MAX_LABEL_LENGTH:
            raise BadInput(f"'{raw}': the part '{label[:20]}…' is longer than {MAX_LABEL_LENGTH} characters")
        if not _LABEL.match(label):
            raise BadInput(f"'{raw}': '{label}' is not a valid part of a domain name "
                           "(letters, digits and inner hyphens only)")
    if labels[-1].isdigit():
        raise BadInput(f"'{raw}' ends in a number; a top-level domain cannot")


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
        host, _, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, default_port


def shown_name(ascii_name: str) -> str:
    """The name for the admin's eyes: an IDN as typed beside its punycode (`münchen.de (xn--mnchen-3ya.de)`)."""
    unicode_name = display_name(ascii_name)
    return ascii_name if unicode_name == ascii_name else f"{unicode_name} ({ascii_name})"
