"""What the HTTPS side of each name will be, decided before the CA is asked.

For a name, from the model (Apache's own vhost dump with mod_ssl on):
- an existing *:443 (or IP-specific, or _default_) vhost of the administrator's that
  serves it is updated in place: only its certificate lines change;
- otherwise ispa-cert writes a *:443 vhost copied from *that name's* port-80 vhost
  (rules that redirect to the same name over https:// left out, Include files whose
  rules would loop inlined without them), or built from a document root the
  administrator named;
- anything that would shadow, break or loop that vhost refuses the name with a
  message naming the file and line and the fix (ApacheRefusal, exit 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BadInput, PreconditionMissing
from ..i18n import _, join
from ..paths import Paths
from . import conf, editor
from .model import VirtualHost, find_vhost, ssl_engine_on, vhosts_for
from .render import SslSite, render_docroot_body

REDIRECTS = ("redirect", "redirectmatch", "redirectpermanent", "redirecttemp")
_NOT_COPIED = ("servername", "serveralias")


class ApacheRefusal(PreconditionMissing):
    """The Apache configuration around a name needs the administrator first."""


@dataclass(frozen=True)
class NamePlan:
    name: str
    site: SslSite | None  # the *:443 vhost ispa-cert writes, if any
    in_place: tuple[VirtualHost, ...] = ()  # the administrator's SSL vhosts whose certificate lines change
    dropped: tuple[str, ...] = ()  # "file:line: rule" left out of the copy
    source: str = ""
    http_site: bool = True  # port 80 serves the name's own site (its HTTPS is checked against it)

    @property
    def addresses(self) -> list[str]:
        """Where a client on this machine reaches the name's HTTPS vhosts."""
        found = [host.connect_address for host in self.in_place]
        if self.site is not None or not found:
            found.insert(0, "127.0.0.1")
        return list(dict.fromkeys(found))


@dataclass
class _Copy:
    names: tuple[str, ...]
    server_root: Path
    dropped: list[str] = field(default_factory=list)


def is_ours(host: VirtualHost, paths: Paths) -> bool:
    """A vhost in ispa-cert's block of the include, or in temp_isp.conf."""
    file = _resolved(host.file)
    if file in (_resolved(paths.temp_site), _resolved(paths.temp_site_enabled)):
        return True
    if file != _resolved(paths.vhost_include) or not paths.vhost_include.exists():
        return False
    text = paths.vhost_include.read_text(errors="replace")
    block = editor.block_of(text)
    if block is None:
        return False
    first = text[:text.find(block)].count("\n") + 1
    return first <= host.line < first + block.count("\n")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def foreign(hosts: list[VirtualHost], paths: Paths) -> list[VirtualHost]:
    return [host for host in hosts if not is_ours(host, paths)]


def plan_name(name: str, hosts: list[VirtualHost], paths: Paths, certificate: Path, key: Path, http_port: int,
              https_port: int, document_root: str | None = None, dns_addresses: tuple[str, ...] = ()) -> NamePlan:
    """The HTTPS plan of one name. Raises ApacheRefusal or BadInput (no vhost, no document root)."""
    theirs = foreign(hosts, paths)
    in_place = tuple(_updatable(host, certificate, key) for host in vhosts_for(theirs, name, https_port))
    _check_port_defaults(theirs, https_port, in_place)
    _check_address_shadowing(theirs, name, https_port, dns_addresses)
    port80 = find_vhost(theirs, name, http_port)
    if _served_in_place(in_place):
        return NamePlan(name, None, in_place, source=_("its own HTTPS vhost at {locations}").format(
            locations=join(", ", (host.location for host in in_place))), http_site=port80 is not None)
    if port80 is None:
        if document_root is None:
            raise no_site(name, http_port)
        site = SslSite(name, render_docroot_body(document_root), certificate, key, with_http=True)
        return NamePlan(name, site, in_place, source=_("the document root {directory}").format(directory=document_root))
    body, dropped = copy_for_https(port80, paths.apache_confdir, name)
    return NamePlan(name, SslSite(name, body, certificate, key), in_place, tuple(dropped),
                    source=_("its port-{port} vhost at {location}").format(port=http_port, location=port80.location))


def needs_document_root(name: str, hosts: list[VirtualHost], paths: Paths, http_port: int, https_port: int) -> bool:
    """Whether plan_name needs a document root for name: the one place that decides it.

    Only when no HTTPS vhost of the administrator's on a wildcard address serves the name
    (that one is updated in place) and no port-80 vhost of theirs serves it (that one is copied).
    """
    theirs = foreign(hosts, paths)
    return not _served_in_place(vhosts_for(theirs, name, https_port)) and find_vhost(theirs, name, http_port) is None


def no_site(name: str, http_port: int, role: str | None = None) -> BadInput:
    """The refusal for a name that needs a document root and has none (role: the option to name)."""
    hint = (_("give the directory its site is served from with --{role}-docroot DIR, or create its "
              "port-{port} virtual host first").format(role=role, port=http_port) if role else
            _("give the document root of its site (--admin-docroot, --client-docroot or "
              "--dealer-docroot DIR), or create its port-80 virtual host first"))
    return BadInput(_("{name} has no port-{port} virtual host of its own, so ispa-cert cannot tell "
                      "which site its HTTPS should serve (it never copies another name's site)").format(
                          name=name, port=http_port), hint=hint)


def _served_in_place(https_hosts: Iterable[VirtualHost]) -> bool:
    """An HTTPS vhost of the administrator's on a wildcard address serves the name: it is updated in place."""
    return any(not host.specific_address for host in https_hosts)


def _updatable(host: VirtualHost, certificate: Path, key: Path) -> VirtualHost:
    """An SSL vhost of the administrator's that ispa-cert can update in place, or a refusal."""
    if host.macro is not None:
        raise ApacheRefusal(_("the HTTPS vhost of {name} is made by a mod_macro macro ({location}); "
                              "ispa-cert cannot change a certificate line inside a macro").format(
                                  name=host.server_name, location=host.location),
                            hint=_("replace the macro by a plain <VirtualHost> block (ispa-cert then changes only its "
                                   "certificate lines), or point its SSLCertificateFile at {certificate} and "
                                   "SSLCertificateKeyFile at {key} by hand").format(certificate=certificate, key=key))
    node = host.section()
    if node is None:
        raise ApacheRefusal(_("Apache names {location} as an HTTPS vhost of {name}, but no <VirtualHost> block "
                              "starts there").format(location=host.location, name=host.server_name),
                            hint=_("check that file, then run again"))
    if not ssl_engine_on(node):
        raise ApacheRefusal(_("the vhost at {location} answers for {name} on port {port} "
                              "without `SSLEngine on`: Apache would speak plain HTTP there, and it would shadow "
                              "the HTTPS vhost of ispa-cert").format(location=host.location, name=host.server_name,
                                                                    port=host.port),
                            hint=_("add `SSLEngine on` and certificate lines to it, or remove it (or change its "
                                   "port), then run again"))
    if not any(child.line.keyword == "sslcertificatefile" for child in node.walk()):
        raise ApacheRefusal(_("the HTTPS vhost at {location} has no SSLCertificateFile line of its own, "
                              "so ispa-cert cannot point it at the new certificate").format(location=host.location),
                            hint=_("add SSLCertificateFile and SSLCertificateKeyFile lines to it, then run again"))
    return host


def _check_port_defaults(theirs: list[VirtualHost], https_port: int, updated: tuple[VirtualHost, ...]) -> None:
    """The first vhost of each address on the HTTPS port decides whether the port speaks TLS."""
    seen: set[str] = set()
    for host in theirs:
        if host.port != https_port or host.address in seen:
            continue
        seen.add(host.address)
        if host in updated:
            continue
        node = host.section()
        if host.macro is None and node is not None and ssl_engine_on(node):
            continue
        raise ApacheRefusal(
            _("the first vhost on {address}:{port} ({name} at {location}) has no "
              "`SSLEngine on`: with mod_ssl on, Apache would speak plain HTTP on that port for every name").format(
                  address=host.address, port=https_port, name=host.server_name, location=host.location),
            hint=_("add `SSLEngine on` with its certificate lines to that vhost, or remove it, then run again"))


def _check_address_shadowing(theirs: list[VirtualHost], name: str, https_port: int,
                             dns_addresses: tuple[str, ...]) -> None:
    """An IP-specific vhost group that does not know the name hides every *:443 vhost there."""
    for address in dns_addresses:
        group = [host for host in theirs if host.port == https_port and host.connect_address == address
                 and host.specific_address]
        if group and not any(host.serves(name) for host in group):
            first = group[0]
            raise ApacheRefusal(
                _("{name} resolves to {address}, and Apache has vhosts for {address}:{port} (first at "
                  "{location}): connections there never reach a *:{port} vhost, so {name} would be "
                  "served another name's site and certificate").format(name=name, address=address, port=https_port,
                                                                       location=first.location),
                hint=_("write those vhosts as *:{port}, or add an SSL vhost for {name} on {address}:{port} "
                       "(ispa-cert then updates its certificate lines)").format(port=https_port, name=name,
                                                                                address=address))


# --- copying a port-80 vhost for HTTPS -------------------------------------------------

def copy_for_https(host: VirtualHost, server_root: Path, name: str) -> tuple[tuple[str, ...], list[str]]:
    """The body of host's <VirtualHost> as the *:443 copy needs it, and the rules left out."""
    if host.macro is not None:
        raise ApacheRefusal(_("the port-80 vhost of {name} is made by a mod_macro macro ({location}); "
                              "ispa-cert cannot copy a macro's vhost for HTTPS").format(name=name, location=host.location),
                            hint=_("give {name} a plain <VirtualHost> block instead of the macro, or write its "
                                   "HTTPS vhost yourself as a plain <VirtualHost> with SSLEngine on and certificate "
                                   "lines (ispa-cert then changes only those lines)").format(name=name))
    try:
        node = host.section()
    except conf.ConfigUnreadable as error:
        raise ApacheRefusal(_("cannot read the port-80 vhost of {name}: {error}").format(name=name, error=error)) from error
    if node is None:
        raise ApacheRefusal(_("Apache names {location} as the port-80 vhost of {name}, but no <VirtualHost> "
                              "block starts there").format(location=host.location, name=name),
                            hint=_("check that file, then run again"))
    state = _Copy((name, host.server_name.lower(), *(alias.lower() for alias in host.aliases)), server_root)
    return tuple(_copy(node.children, state)), state.dropped


def _copy(nodes: list[conf.Node], state: _Copy) -> list[str]:
    out: list[str] = []
    conditions: list[conf.Node] = []  # RewriteCond lines belong to the RewriteRule after them
    for node in nodes:
        keyword = node.line.keyword
        if keyword == "rewritecond":
            conditions.append(node)
            continue
        if keyword == "rewriterule":
            rule = [*conditions, node]
            conditions = []
            if _loops(node.line.arguments[1:2], state):
                state.dropped.extend(f"{n.line.location}: {n.line.text}" for n in rule)
            else:
                out.extend(text for n in rule for text in _lines(n.line))
            continue
        out.extend(text for n in conditions for text in _lines(n.line))
        conditions = []
        out.extend(_copy_node(node, keyword, state))
    out.extend(text for n in conditions for text in _lines(n.line))
    return out


def _copy_node(node: conf.Node, keyword: str, state: _Copy) -> list[str]:
    line = node.line
    if keyword in _NOT_COPIED or keyword.startswith("ssl"):
        return []
    if keyword in REDIRECTS:
        if _loops(line.arguments, state):
            state.dropped.append(f"{line.location}: {line.text}")
            return []
        return _lines(line)
    if keyword == "use":
        raise ApacheRefusal(_("{location}: `{line}` uses a mod_macro macro inside the vhost; ispa-cert "
                              "cannot tell whether the macro redirects to HTTPS").format(location=line.location,
                                                                                         line=line.text),
                            hint=_("write the macro's lines into the vhost, or create the HTTPS vhost yourself "
                                   "(ispa-cert then changes only its certificate lines)"))
    if keyword in ("include", "includeoptional"):
        return _copy_include(node, state)
    if keyword in ("virtualhost", "macro"):
        raise ApacheRefusal(_("{location}: a <{section}> section inside a vhost cannot be copied").format(
            location=line.location, section=keyword))
    if node.is_section:
        closing = _lines(node.close) if node.close is not None else []
        return [*_lines(line), *_copy(node.children, state), *closing]
    return _lines(line)


def _copy_include(node: conf.Node, state: _Copy) -> list[str]:
    """Keep an Include line, unless a file it names holds a rule that would loop: then inline it without."""
    line = node.line
    pattern = conf.unquote(line.arguments[0]) if line.arguments else ""
    before = len(state.dropped)
    inlined: list[str] = []
    for file in conf.included_files(pattern, state.server_root):
        try:
            nodes = conf.parse(file)
        except (OSError, conf.ConfigUnreadable) as error:
            raise ApacheRefusal(_("{location}: cannot read {file} it includes: {error}").format(
                location=line.location, file=file, error=error)) from error
        inlined.append(f"# {line.text} ({file}), copied without its rules that redirect to https://")
        inlined.extend(_copy(nodes, state))
    return _lines(line) if len(state.dropped) == before else inlined


def _loops(arguments: list[str], state: _Copy) -> bool:
    """Does a Redirect/RewriteRule target send the client to https:// on this same vhost?"""
    for word in arguments:
        target = conf.unquote(word)
        if not target.lower().startswith("https://"):
            continue
        host = urlsplit(target).hostname or ""
        raw_host = target[len("https://"):].split("/", 1)[0]
        if "%{" in raw_host or "$" in raw_host or host.lower() in state.names:
            return True
    return False


def _lines(line: conf.Line) -> list[str]:
    return [raw.rstrip("\r\n") for raw in line.physical]
