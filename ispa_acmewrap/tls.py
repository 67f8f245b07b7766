"""The HTTPS policy of the virtual hosts ispa-cert writes, and how doctor judges Apache's.

- TLS profiles: Mozilla's *intermediate* (default) and *modern* configurations for
  Apache 2.4 with OpenSSL 3, kept as versioned snippets in `data/tls-PROFILE.conf`
  (shipped with the package). Each snippet's first line names the profile and its
  version; that line is written into every vhost, so `status` reads the profile in use
  from the configuration itself.
- HTTP/2: `Protocols h2 http/1.1` inside `<IfModule http2_module>` (never h2c on HTTPS).
- HSTS: one `Header always set Strict-Transport-Security` line (needs mod_headers).
- OCSP stapling is never written; doctor flags `SSLUseStapling on` anywhere Apache loads.

Pure functions; nothing here runs a process or writes a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from .findings import Finding, Severity
from .i18n import _

PROFILES = ("intermediate", "modern")
DEFAULT_PROFILE = "intermediate"
HSTS_MAX_AGE = 63072000  # two years, as Mozilla recommends
HSTS_LINE = f'Header always set Strict-Transport-Security "max-age={HSTS_MAX_AGE}"'
SERVER_WIDE_NOTE = ("# Key-exchange groups of the TLS profile for every HTTPS site: they are chosen before "
                    "Apache knows the name.")
HTTP2_LINES = ("<IfModule http2_module>", "    Protocols h2 http/1.1", "</IfModule>")

_MARKER = re.compile(r"^\s*# ispa-cert TLS profile: (?P<profile>[a-z]+); version: (?P<version>[^;\s]+)")
# Lines of the port-80 vhost that are not copied into the HTTPS vhost: its protocols
# (h2c must never be offered over TLS) and any HSTS header (ours follows --hsts).
_REPLACED_BY_POLICY = re.compile(r"^\s*(Protocols\b|Header\s+.*Strict-Transport-Security)", re.IGNORECASE)
_CURVES = re.compile(r"^\s*SSLOpenSSLConfCmd\s+(Curves|Groups)\b", re.IGNORECASE)
_STAPLING_ON = re.compile(r"^\s*SSLUseStapling\s+\"?on\"?\s*(#.*)?$", re.IGNORECASE)
_MODULE_LINE = re.compile(r"^\s*(?P<module>\w+_module)\s+\((?:shared|static)\)\s*$")
_INCLUDED_FILE = re.compile(r"^\s*\((?:\*|\d+)\)\s+(?P<file>\S.*?)\s*$")


@dataclass(frozen=True)
class TlsPolicy:
    """What the HTTPS vhosts get: the profile, and HSTS (only ever with the port-80 redirect)."""

    profile: str = DEFAULT_PROFILE
    hsts: bool = False

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown TLS profile {self.profile!r}; expected one of {', '.join(PROFILES)}")


@dataclass(frozen=True)
class ProfileInUse:
    profile: str
    version: str


@dataclass(frozen=True)
class Http2Support:
    """Can Apache serve HTTP/2 over TLS? mod_http2 must be loaded and the MPM must not be prefork."""

    module_loaded: bool
    mpm: str | None  # "event", "worker", "prefork"; None when no MPM module was listed

    @property
    def can_serve(self) -> bool:
        return self.module_loaded and self.mpm not in (None, "prefork")


# --- the snippets ------------------------------------------------------------------------

@cache
def snippet(profile: str) -> str:
    """The profile's directives as shipped (data/tls-PROFILE.conf), its version line first."""
    if profile not in PROFILES:
        raise ValueError(f"unknown TLS profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return (resources.files(__package__) / "data" / f"tls-{profile}.conf").read_text(encoding="utf-8")


def snippet_version(profile: str) -> str:
    found = profile_in_use(snippet(profile))
    if found is None or found.profile != profile:
        raise ValueError(f"the TLS snippet of {profile} lacks its version line")
    return found.version


def vhost_lines(policy: TlsPolicy) -> list[str]:
    """The lines an HTTPS vhost gets after its certificate lines (not indented)."""
    lines = [line.rstrip() for line in snippet(policy.profile).splitlines() if line.strip()]
    lines.extend(HTTP2_LINES)
    if policy.hsts:
        lines.append(HSTS_LINE)
    return lines


def server_lines(policy: TlsPolicy) -> list[str]:
    """The profile's key-exchange groups, server-wide. OpenSSL picks the group from the first
    HTTPS vhost of the port, before Apache switches to the vhost of the name (SNI): only a
    server-wide setting holds when another site's vhost comes first. Every browser has these."""
    curves = [line.strip() for line in snippet(policy.profile).splitlines() if _CURVES.match(line)]
    return [SERVER_WIDE_NOTE, *curves]


def replaced_by_policy(line: str) -> bool:
    """Is this line of a port-80 vhost left out of its HTTPS copy (the policy decides it)?"""
    return bool(_REPLACED_BY_POLICY.match(line))


def profile_in_use(text: str) -> ProfileInUse | None:
    """The profile named by the first version line in a configuration text, if any."""
    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            return ProfileInUse(match.group("profile"), match.group("version"))
    return None


def hsts_in(text: str) -> bool:
    return any(line.strip() == HSTS_LINE for line in text.splitlines())


# --- what Apache has loaded -------------------------------------------------------------------

def parse_loaded_modules(output: str) -> set[str]:
    """Module names (`http2_module`, `mpm_event_module`, …) from `apache2ctl -M`."""
    return {match.group("module") for line in output.splitlines() if (match := _MODULE_LINE.match(line))}


def http2_support(modules: set[str]) -> Http2Support:
    mpm = next((name[len("mpm_"):-len("_module")] for name in sorted(modules)
                if name.startswith("mpm_") and name.endswith("_module")), None)
    return Http2Support("http2_module" in modules, mpm)


def parse_included_files(output: str) -> list[Path]:
    """The files Apache reads, from `apache2ctl -t -D DUMP_INCLUDES`."""
    return [Path(match.group("file")) for line in output.splitlines() if (match := _INCLUDED_FILE.match(line))]


def stapling_lines(text: str) -> list[int]:
    """Line numbers (1-based) that switch OCSP stapling on."""
    return [number for number, line in enumerate(text.splitlines(), 1) if _STAPLING_ON.match(line)]


# --- doctor's judges ---------------------------------------------------------------------------

def stapling_finding(places: list[tuple[Path, int]]) -> Finding:
    if not places:
        return Finding("ocsp-stapling", Severity.OK, _("OCSP stapling is off (Let's Encrypt ended OCSP in 2025)"))
    where = ", ".join(f"{file}:{line}" for file, line in places)
    return Finding("ocsp-stapling", Severity.WARN,
                   _("OCSP stapling is switched on ({where}), but Let's Encrypt ended its OCSP service in 2025: "
                     "Apache logs errors and may stall handshakes fetching responses that no longer exist").format(
                         where=where),
                   fix=_("delete the `SSLUseStapling on` line(s) (and `SSLStaplingCache`), then `apache2ctl configtest` "
                         "and `apache2ctl graceful`"))


def http2_finding(support: Http2Support) -> Finding:
    """HTTP/2 is optional: only a loaded mod_http2 that the prefork MPM silences is a warning."""
    if support.can_serve:
        return Finding("http2", Severity.OK, _("mod_http2 is loaded and the {mpm} MPM serves HTTP/2 (h2) on the "
                                               "HTTPS virtual hosts").format(mpm=support.mpm))
    if support.module_loaded:
        return Finding("http2", Severity.WARN,
                       _("mod_http2 is loaded, but the prefork MPM cannot serve HTTP/2: HTTPS stays on HTTP/1.1"),
                       fix=_("switch to the event MPM (PHP through php-fpm instead of mod_php): `a2dismod php* "
                             "mpm_prefork && a2enmod mpm_event proxy_fcgi`, or `a2dismod http2` to silence this"))
    return Finding("http2", Severity.OK, _("mod_http2 is not loaded: HTTPS is served over HTTP/1.1 "
                   "(`a2enmod http2` turns HTTP/2 on; the written `Protocols h2 http/1.1` then applies)"))
