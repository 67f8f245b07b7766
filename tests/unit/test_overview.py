"""The top-level help the entry point prints without typer is the one typer would print: same text,
same layout, at every width and in both languages, on the same stream with the same exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ENTRY_POINT = shutil.which("ispa-cert", path=os.path.dirname(sys.executable))
THROUGH_TYPER = [sys.executable, "-c", "import sys; sys.argv[0] = 'ispa-cert'; "
                 "from ispa_acmewrap.cli import main; main()"]


def run(argv: list[str], columns: int) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": str(columns), "LC_ALL": "C.UTF-8"}
    environment.pop("LANG", None)
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=60)


@pytest.mark.parametrize("columns", [20, 80, 160])
@pytest.mark.parametrize("arguments", [["--help"], ["-h"], ["--lang", "cs", "--help"], ["--lang=cs", "-h"],
                                       ["--lang", "en"], []], ids=" ".join)
def test_the_quick_top_level_help_is_typers_to_the_byte(arguments, columns):
    assert ENTRY_POINT, "the ispa-cert entry point is not installed next to this python"
    quick, typer_ = run([ENTRY_POINT, *arguments], columns), run([*THROUGH_TYPER, *arguments], columns)
    assert (quick.stdout, quick.stderr, quick.returncode) == (typer_.stdout, typer_.stderr, typer_.returncode)
    assert "COMMAND [ARGS]" in quick.stdout + quick.stderr  # it is the help, not an error
    assert quick.returncode == (0 if "--help" in arguments or "-h" in arguments else 2)


def test_the_top_level_help_does_not_load_typer():
    probe = ("import sys; sys.argv = ['ispa-cert', '--help']\n"
             "from ispa_acmewrap import overview\n"
             "try:\n    overview.main()\nexcept SystemExit:\n    pass\n"
             "print('typer' in sys.modules, 'ispa_acmewrap.cli' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip() == "False False"
    assert "Commands:" in result.stdout


@pytest.mark.parametrize("arguments", [["status", "--help"], ["--lang", "cs", "doctor", "-h"], ["--version"],
                                       ["--root", "/nonexistent", "--help"]], ids=" ".join)
def test_every_other_command_line_goes_to_typer(arguments):
    quick, typer_ = run([ENTRY_POINT, *arguments], 100), run([*THROUGH_TYPER, *arguments], 100)
    assert (quick.stdout, quick.returncode) == (typer_.stdout, typer_.returncode) and quick.stdout
