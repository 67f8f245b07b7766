"""Reading Apache configuration files the way Apache reads them, line for line.

A *logical line* is what Apache sees: physical lines ending in `\\` are joined with
the next one. Each logical line keeps its physical lines, so a copy or an edit can
write them back byte for byte. Sections (`<VirtualHost>`, `<IfModule>`, `<If>`,
`<Directory>`, …) become nodes with children, matched case-insensitively, whatever
the indentation. Only this package parses Apache files.
"""

from __future__ import annotations

import glob
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import _


@dataclass(frozen=True)
class Line:
    """One logical line: its physical lines (newlines kept) and where they are."""

    file: Path
    number: int  # 1-based physical line where it starts
    physical: tuple[str, ...]

    @property
    def text(self) -> str:
        """The joined text Apache parses (continuations removed)."""
        parts = [raw.rstrip("\r\n") for raw in self.physical]
        return "".join(part[:-1] if part.endswith("\\") else part for part in parts).strip()

    @property
    def words(self) -> list[str]:
        text = self.text.lstrip("<").rstrip(">") if self.is_open else self.text
        try:
            return shlex.split(text, comments=False, posix=True)
        except ValueError:
            return text.split()

    @property
    def keyword(self) -> str:
        """The directive or section name, lower case ('' for comments and blank lines)."""
        text = self.text
        if not text or text.startswith("#"):
            return ""
        word = text.split(None, 1)[0].lstrip("<").rstrip(">")
        return word.lstrip("/").lower()

    @property
    def arguments(self) -> list[str]:
        return self.words[1:]

    @property
    def is_open(self) -> bool:
        return self.text.startswith("<") and not self.text.startswith("</")

    @property
    def is_close(self) -> bool:
        return self.text.startswith("</")

    @property
    def location(self) -> str:
        return f"{self.file}:{self.number}"


@dataclass
class Node:
    """A logical line; a section also has its children and its closing line."""

    line: Line
    children: list["Node"] = field(default_factory=list)
    close: Line | None = None

    @property
    def is_section(self) -> bool:
        return self.line.is_open

    def walk(self):
        """Every node inside this one, depth first."""
        for child in self.children:
            yield child
            yield from child.walk()

    @property
    def physical(self) -> list[str]:
        lines = list(self.line.physical)
        for child in self.children:
            lines.extend(child.physical)
        if self.close is not None:
            lines.extend(self.close.physical)
        return lines


class ConfigUnreadable(ValueError):
    """A file whose sections do not balance; the message names file and line."""


def physical_lines(text: str) -> list[str]:
    """Lines as Apache counts them (split at \\n only), each with its line ending."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def read(file: Path) -> str:
    """A file's text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
    return file.read_text(encoding="utf-8", errors="surrogateescape")


def logical_lines(file: Path, text: str) -> list[Line]:
    lines: list[Line] = []
    physical = physical_lines(text)
    index = 0
    while index < len(physical):
        start = index
        while physical[index].rstrip("\r\n").endswith("\\") and index + 1 < len(physical):
            index += 1
        lines.append(Line(file, start + 1, tuple(physical[start:index + 1])))
        index += 1
    return lines


def parse(file: Path, text: str | None = None) -> list[Node]:
    """The top-level nodes of a file."""
    if text is None:
        text = read(file)
    root = Node(Line(file, 0, ()))
    stack = [root]
    for line in logical_lines(file, text):
        if line.is_close:
            if len(stack) == 1:
                raise ConfigUnreadable(_("{location}: {line} closes a section that was not opened").format(
                    location=line.location, line=line.text))
            stack[-1].close = line
            stack.pop()
            continue
        node = Node(line)
        stack[-1].children.append(node)
        if line.is_open:
            stack.append(node)
    if len(stack) > 1:
        raise ConfigUnreadable(_("{location}: {line} is never closed").format(location=stack[-1].line.location,
                                                                              line=stack[-1].line.text))
    return root.children


def section_at(file: Path, number: int) -> Node | None:
    """The section that starts on physical line `number` of file (as apache2ctl -S names it)."""
    for node in _all_nodes(parse(file)):
        if node.line.number == number and node.is_section:
            return node
    return None


def _all_nodes(nodes: list[Node]):
    for node in nodes:
        yield node
        yield from node.walk()


def included_files(pattern: str, server_root: Path) -> list[Path]:
    """The files an Include/IncludeOptional argument names, in Apache's (sorted) order."""
    path = Path(pattern)
    if not path.is_absolute():
        path = server_root / path
    if path.is_dir():
        return sorted(entry for entry in path.iterdir() if entry.is_file())
    if any(char in str(path) for char in "*?["):
        return sorted(Path(found) for found in glob.glob(str(path)) if Path(found).is_file())
    return [path] if path.is_file() else []


def unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else word
