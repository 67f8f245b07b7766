"""The surgical editor: change the lines we mean to in someone else's file and keep every
other byte (line endings, indentation, comments, continued lines).

It only computes new file texts; transaction.py backs the files up and writes them.

Hand-written rather than python-augeas: the edits are whole-line replacements of
known directives plus one marked block, which a line editor does byte-exactly; Augeas
would add a system library (libaugeas0, augeas-lenses) and a lens whose view of
continued lines and odd case is another parser to trust.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .. import tls
from ..paths import Paths
from . import conf
from .render import BLOCK_BEGIN, BLOCK_END, INCLUDE_HEADER, SslSite, redirects_to_https, render_include

CERTIFICATE_KEYWORDS = ("sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")


@dataclass(frozen=True)
class Replacement:
    """Replace the physical lines of one logical line (from `number`, `count` lines) by `text`."""

    number: int
    count: int
    text: str


@dataclass(frozen=True)
class FileEdit:
    """A whole file before and after; `foreign` when ispa-cert did not write all of it."""

    path: Path
    before: str
    after: str
    foreign: bool = True

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
                                            fromfile=f"{self.path} (now)", tofile=f"{self.path} (after)"))

    def removed_foreign_lines(self) -> list[str]:
        """Lines of the administrator's that the edit drops (certificate lines being replaced excepted)."""
        before, after = outside_block(self.before), outside_block(self.after)
        removed = [line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]
        return [line for line in removed
                if line.strip() and _keyword(line) not in CERTIFICATE_KEYWORDS]


def _keyword(line: str) -> str:
    words = line.split()
    return words[0].lower() if words else ""


def apply(text: str, replacements: list[Replacement]) -> str:
    """text with each replacement applied; every other byte unchanged."""
    physical = conf.physical_lines(text)
    for replacement in sorted(replacements, key=lambda r: r.number, reverse=True):
        start = replacement.number - 1
        physical[start:start + replacement.count] = [replacement.text]
    return "".join(physical)


def replace_line(line: conf.Line, new_text: str) -> Replacement:
    """Replace a (possibly continued) directive by new_text, keeping its indentation and line ending."""
    first = line.physical[0]
    indent = first[:len(first) - len(first.lstrip())]
    last = line.physical[-1]
    ending = last[len(last.rstrip("\r\n")):]
    return Replacement(line.number, len(line.physical), f"{indent}{new_text}{ending or chr(10)}")


def certificate_replacements(vhost: conf.Node, fullchain: Path, key: Path) -> list[Replacement]:
    """Point an existing SSL vhost's certificate lines at our stable files, nothing else."""
    edits = []
    for node in vhost.walk():
        keyword = node.line.keyword
        if keyword == "sslcertificatefile" and node.line.arguments != [str(fullchain)]:
            edits.append(replace_line(node.line, f"SSLCertificateFile {fullchain}"))
        elif keyword == "sslcertificatekeyfile" and node.line.arguments != [str(key)]:
            edits.append(replace_line(node.line, f"SSLCertificateKeyFile {key}"))
        elif keyword == "sslcertificatechainfile":
            old = node.line.text
            edits.append(replace_line(node.line, f"# {old}  (ispa-cert: {fullchain.name} holds the chain)"))
    return edits


# --- ispa-cert's block inside the generated include --------------------------------

def outside_block(text: str) -> str:
    """The include without ispa-cert's block (an old-format file of ours counts as all ours)."""
    if text.startswith(INCLUDE_HEADER):
        return ""
    start, end = _block_span(text)
    return text if start is None else text[:start] + text[end:]


def current_include(paths: Paths) -> str:
    """The generated include as it is now ("" before the first run)."""
    return conf.read(paths.vhost_include) if paths.vhost_include.exists() else ""


def include_edit(paths: Paths, current: str, sites: list[SslSite], https_port: int, http_port: int,
                 redirect: bool | None, policy: tls.TlsPolicy) -> FileEdit:
    """The include with ispa-cert's block serving `sites` (render_include); `redirect` None keeps
    what the block does now. Lines outside the block stay as they are."""
    keep_redirect = redirects_to_https(block_of(current) or "")
    rendered = render_include(paths, sites, https_port, redirect=keep_redirect if redirect is None else redirect,
                              http_port=http_port, policy=policy)
    return FileEdit(paths.vhost_include, current, with_block(current, rendered),
                    foreign=bool(outside_block(current).strip()))


def challenge_include_edit(paths: Paths, current: str) -> FileEdit:
    """The include ready for HTTP-01 challenges: ispa-cert's block with the challenge Alias.
    A block that is there already is kept as it is (it holds the Alias and what it serves today)."""
    after = current if block_of(current) is not None else with_block(current, render_include(paths, [], 443))
    return FileEdit(paths.vhost_include, current, after, foreign=bool(outside_block(current).strip()))


def block_of(text: str) -> str | None:
    if text.startswith(INCLUDE_HEADER):
        return text
    start, end = _block_span(text)
    return None if start is None else text[start:end]


def with_block(text: str, block: str) -> str:
    """The include with ispa-cert's block put in place of the old one (or appended)."""
    if not text.strip() or text.startswith(INCLUDE_HEADER):
        return block
    start, end = _block_span(text)
    if start is not None:
        return text[:start] + block + text[end:]
    separator = "" if text.endswith("\n") else "\n"
    return f"{text}{separator}\n{block}"


def _block_span(text: str) -> tuple[int | None, int]:
    start = text.find(BLOCK_BEGIN)
    if start < 0 or (start > 0 and text[start - 1] != "\n"):
        return None, 0
    end = text.find(BLOCK_END, start)
    if end < 0:
        return None, 0
    return start, end + len(BLOCK_END)
