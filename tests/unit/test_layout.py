"""The README's layout section is a map of the code: every module is on it, and the rules it
states hold (as test_paths.py checks the path and process rules)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ispa_acmewrap import errors

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ispa_acmewrap"
TERMINAL_WRITERS = {"cli.py", "overview.py", "report.py", "console.py", "progress.py", "terminal.py", "lifecycle.py",
                    "manpage.py"}
ERROR_CLASSES = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.IspaError)}


def layout_text() -> str:
    readme = (REPO / "README.md").read_text()
    return readme[readme.index("Layout of `ispa_acmewrap/`"):readme.index("Tests:\n`tests/unit`")]


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def source(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_every_module_is_on_the_map_and_every_module_on_the_map_exists():
    text = layout_text()
    named = set(re.findall(r"`([a-z0-9_]+\.py)`", text))
    on_disk = {path.name for path in modules()}
    assert on_disk - named == set(), "modules the README's layout does not name"
    assert named - on_disk == set(), "modules the README's layout names that do not exist"
    for package in {path.parent.name for path in modules() if path.parent != PACKAGE}:
        assert f"`{package}/`" in text


def test_nothing_but_cli_py_exits():
    """lifecycle.run settles the exit code and cli.py exits with it; overview.py ends the top-level help
    (0, or 2 for no command) as Typer would; supervise.py is a program of its own."""
    offenders = []
    for path in modules():
        if path.name in ("cli.py", "overview.py", "supervise.py"):
            continue
        for node in ast.walk(source(path)):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in ("exit", "_exit", "Exit", "SystemExit"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def _catches_an_ispa_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in ERROR_CLASSES for kind in caught)


def _calls(node: ast.AST) -> set[str]:
    return {call.func.id if isinstance(call.func, ast.Name) else call.func.attr for call in ast.walk(node)
            if isinstance(call, ast.Call) and isinstance(call.func, (ast.Name, ast.Attribute))}


def test_a_handler_that_catches_an_ispa_error_outside_the_skeleton_neither_prints_nor_exits_nor_swallows_it():
    handlers = []
    for path in modules():
        if path.name in ("cli.py", "lifecycle.py"):
            continue
        for node in ast.walk(source(path)):
            if isinstance(node, ast.ExceptHandler) and node.type is not None and _catches_an_ispa_error(node):
                handlers.append(path.name)
                assert not _calls(node) & {"print", "exit", "_exit"}, f"{path.name}:{node.lineno}"
                assert not all(isinstance(step, ast.Pass) for step in node.body), f"{path.name}:{node.lineno}"
    assert handlers, "the check found no handler at all: ERROR_CLASSES or the walk is wrong"


def test_only_the_modules_on_the_map_write_to_the_terminal():
    offenders = [path.name for path in modules() if path.name not in TERMINAL_WRITERS
                 and re.search(r"(?<![\w.])print\(|sys\.std(out|err)\.write", path.read_text())]
    assert offenders == []


def test_tables_are_rendered_in_report_py_only():
    offenders = [f"{path.name}:{node.lineno}" for path in modules() if path.name != "report.py"
                 for node in ast.walk(source(path))
                 if isinstance(node, ast.FunctionDef) and (node.name == "table" or node.name.endswith("_table"))
                 or isinstance(node, ast.Call) and getattr(node.func, "id", None) == "table"]
    assert offenders == []


@pytest.mark.parametrize("flag", ["--issue", "--renew", "--install-cert", "--register-account", "--upgrade"])
def test_acme_sh_argv_is_built_in_acme_py_only(flag):
    offenders = [path.name for path in modules() if path.name != "acme.py" and f'"{flag}"' in path.read_text()]
    assert offenders == []
