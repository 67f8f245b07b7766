"""Which virtual host serves which name on which address and port, from which file and
line — as Apache itself says (`apache2ctl -S` / `-t -D DUMP_VHOSTS`), evaluated with
mod_ssl loaded, because vhosts inside `<IfModule mod_ssl.c>` only exist then.

Nothing here runs a process: actions run `dump_command()` through runner.run() and
hand the output to `parse_virtual_hosts()`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from ..command import Command
from ..i18n import _
from ..paths import Paths
from . import conf
from .render import ctl_command

_VHOST_LINE = re.compile(
    r"^\s*(?:(?:default server|port (?P<port>\d+) namevhost)\s+)?(?P<name>\S+)\s+\((?P<file>.+):(?P<line>\d+)\)\s*$")
_ADDRESS_LINE = re.compile(r"^(?P<address>\S+):(?P<port>\d+)\s+(?P<rest>.*)$")
_ALIAS_LINE = re.compile(r"^\s+(?:wild )?alias\s+(?P<alias>\S+)\s*$")
_MACRO = re.compile(r"^macro '(?P<macro>[^']*)' \(defined on line (?P<defined_line>\d+) of \"(?P<defined>[^\"]+)\"\) "
                    r"used on line (?P<line>\d+) of \"(?P<file>[^\"]+)\"")
_SSL_MODULES = ("ssl", "socache_shmcb")


@dataclass(frozen=True)
class VirtualHost:
    """One virtual host as Apache reports it.

    For a vhost made by mod_macro, `file`/`line` are where the macro is used and
    `macro` names the macro; its text is not a <VirtualHost> block there.
    """

    port: int
    server_name: str
    aliases: tuple[str, ...]
    file: Path
    line: int
    default: bool = False
    address: str = "*"
    macro: str | None = None

    def serves(self, name: str) -> bool:
        name = name.lower()
        return name == self.server_name.lower() or any(
            fnmatch.fnmatchcase(name, alias.lower()) for alias in self.aliases)

    @property
    def location(self) -> str:
        if self.macro is not None:
            return _("line {line} of {file}, where the macro '{macro}' is used").format(
                line=self.line, file=self.file, macro=self.macro)
        return f"{self.file}:{self.line}"

    @property
    def specific_address(self) -> bool:
        return self.address not in ("*", "_default_")

    @property
    def connect_address(self) -> str:
        """Where a client on this machine reaches the vhost."""
        return self.address.strip("[]") if self.specific_address else "127.0.0.1"

    def section(self) -> conf.Node | None:
        """Its <VirtualHost> block, read from the file Apache named (None for macros)."""
        if self.macro is not None or not self.file.is_file():
            return None
        node = conf.section_at(self.file, self.line)
        return node if node is not None and node.line.keyword == "virtualhost" else None


def parse_virtual_hosts(output: str) -> list[VirtualHost]:
    """Parse the `VirtualHost configuration:` part of `apache2ctl -S` / DUMP_VHOSTS."""
    hosts: list[VirtualHost] = []
    port, address = 0, "*"
    pending: dict | None = None

    def flush() -> None:
        if pending is not None:
            hosts.append(_host(**pending))

    for raw in output.splitlines():
        if raw.startswith(("ServerRoot:", "Main DocumentRoot", "Main ErrorLog", "Mutex", "PidFile", "Define",
                           "User:", "Group:")):
            break
        found = _ADDRESS_LINE.match(raw)
        if found and not raw.startswith(" "):
            port, address = int(found.group("port")), found.group("address")
            rest = found.group("rest")
            if rest.startswith("is a NameVirtualHost"):
                continue
            raw = rest  # a port with a single vhost: `*:80  name (file:line)`
        alias = _ALIAS_LINE.match(raw)
        if alias and pending is not None:
            pending["aliases"] = (*pending["aliases"], alias.group("alias"))
            continue
        vhost = _VHOST_LINE.match(raw)
        if vhost:
            flush()
            pending = {"port": int(vhost.group("port") or port), "server_name": vhost.group("name"), "aliases": (),
                       "location": vhost.group("file"), "line": int(vhost.group("line")), "address": address,
                       "default": raw.strip().startswith("default server")}
            if pending["default"]:
                hosts.append(_host(**pending))
                pending = None
    flush()
    return _merge_defaults(hosts)


def _host(port: int, server_name: str, aliases: tuple[str, ...], location: str, line: int, address: str,
          default: bool) -> VirtualHost:
    macro = _MACRO.match(location)
    if macro:
        return VirtualHost(port, server_name, aliases, Path(macro.group("file")), int(macro.group("line")),
                           default, address, macro.group("macro"))
    return VirtualHost(port, server_name, aliases, Path(location), line, default, address)


def _merge_defaults(hosts: list[VirtualHost]) -> list[VirtualHost]:
    """`default server X (f:1)` repeats a namevhost line: keep one entry, marked default."""
    key = lambda h: (h.address, h.port, h.file, h.line, h.server_name)  # noqa: E731
    defaults = {key(h) for h in hosts if h.default}
    merged = [VirtualHost(h.port, h.server_name, h.aliases, h.file, h.line, key(h) in defaults, h.address, h.macro)
              for h in hosts if not h.default]
    known = {key(h) for h in merged}
    merged.extend(h for h in hosts if h.default and key(h) not in known)
    return merged


def find_vhost(hosts: list[VirtualHost], name: str, port: int) -> VirtualHost | None:
    """The vhost Apache picks for name on port (an exact name before a wildcard alias)."""
    candidates = [host for host in hosts if host.port == port and host.serves(name)]
    exact = [host for host in candidates if name.lower() in (host.server_name.lower(),
                                                              *(a.lower() for a in host.aliases))]
    found = exact or candidates
    return found[0] if found else None


def vhosts_for(hosts: list[VirtualHost], name: str, port: int) -> list[VirtualHost]:
    """Every vhost on port (any address) that answers for name."""
    return [host for host in hosts if host.port == port and host.serves(name)]


def default_vhost(hosts: list[VirtualHost], port: int, address: str | None = None) -> VirtualHost | None:
    group = [host for host in hosts if host.port == port and (address is None or host.address == address)]
    for host in group:
        if host.default:
            return host
    return group[0] if group else None


def addresses(hosts: list[VirtualHost], port: int) -> list[str]:
    """The addresses Apache has vhost groups for on port, in order (`*` included)."""
    seen: list[str] = []
    for host in hosts:
        if host.port == port and host.address not in seen:
            seen.append(host.address)
    return seen


def dump_command(paths: Paths) -> Command:
    """apache2ctl's vhost dump as it will be with mod_ssl on (loaded with -C when it is off).

    The dump skips Apache's checks of files (a missing certificate): ssl_configtest_command does them.
    """
    return ctl_command(paths, "-t", "-D", "DUMP_VHOSTS", *_with_ssl(paths))


def ssl_configtest_command(paths: Paths) -> Command:
    """apache2ctl's configtest as it will be with mod_ssl on."""
    return ctl_command(paths, "-t", *_with_ssl(paths))


def _with_ssl(paths: Paths) -> list[str]:
    argv: list[str] = []
    for module in _SSL_MODULES:
        if not (paths.mods_enabled / f"{module}.load").exists():
            argv += [part for line in _load_lines(paths, module) for part in ("-C", line)]
    return argv


def _load_lines(paths: Paths, module: str) -> list[str]:
    source = paths.mods_available / f"{module}.load"
    if not source.is_file():
        return []
    return [line.strip() for line in source.read_text().splitlines() if line.strip().lower().startswith("loadmodule")]


def ssl_engine_on(node: conf.Node) -> bool:
    """Does this <VirtualHost> block itself say `SSLEngine on` (possibly inside <IfModule>)?"""
    return any(child.line.keyword == "sslengine" and [a.lower() for a in child.line.arguments] == ["on"]
               for child in node.walk())


def certificate_file_served(hosts: list[VirtualHost], name: str, https_port: int, server_root: Path) -> Path | None:
    """The SSLCertificateFile of the vhost Apache uses for `name` on the HTTPS port (None without one).

    `hosts` come from Apache itself (`apache2ctl -S`); the directive is read from the file and
    line Apache named. A relative path is relative to ServerRoot, as Apache takes it.
    """
    host = find_vhost(hosts, name, https_port)
    node = host.section() if host is not None else None
    if node is None:
        return None
    for child in node.walk():
        if child.line.keyword == "sslcertificatefile" and child.line.arguments:
            path = Path(conf.unquote(child.line.arguments[0]))
            return path if path.is_absolute() else server_root / path
    return None
