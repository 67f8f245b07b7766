"""The layers the README's layout names, checked in the source (as test_paths checks paths and processes)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ispa_acmewrap"
ACTIONS = PACKAGE / "actions"
SHARED = {"common", "served", "acme_home", "takeover"}  # parts several commands share
ALLOWED = {("repair", "issue")}  # repair --reissue runs the issue flow itself


def imported_actions(source: Path) -> set[str]:
    """The modules of actions/ that `source` imports (relative or absolute, at any depth)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and module:  # from .issue import …
                found.add(module.split(".")[0])
            elif node.level == 1:  # from . import issue
                found.update(alias.name for alias in node.names)
            elif module.endswith("actions"):  # from ..actions import issue
                found.update(alias.name for alias in node.names)
            elif ".actions." in f".{module}.":  # from ..actions.issue import …
                found.add(module.rsplit("actions.", 1)[1].split(".")[0])
    return found


def test_no_command_module_imports_another():
    commands = {path.stem for path in ACTIONS.glob("*.py")} - SHARED - {"__init__"}
    offenders = [(source.stem, imported) for source in ACTIONS.glob("*.py")
                 for imported in imported_actions(source) & commands
                 if imported != source.stem and (source.stem, imported) not in ALLOWED]
    assert offenders == []


def test_only_the_console_and_cli_read_the_terminal():
    """terminal.py asks whether a stream is a terminal too: it decides colour and width, and reads no input."""
    offenders = [source.name for source in PACKAGE.rglob("*.py")
                 if source.name not in ("console.py", "cli.py", "terminal.py")
                 and any(token in source.read_text() for token in ("input(", "isatty("))]
    assert offenders == []


def test_tables_are_rendered_in_report_only():
    offenders = [source.name for source in PACKAGE.rglob("*.py") if source.name != "report.py"
                 and any(token in source.read_text() for token in ("import table", "report.table(", " table(("))]
    assert offenders == []


def test_enums_are_asked_not_probed():
    offenders = [source.name for source in PACKAGE.rglob("*.py") if 'hasattr(' in source.read_text()
                 and '"value"' in source.read_text()]
    assert offenders == []
