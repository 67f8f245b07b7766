"""`--help` as an administrator reads it: whole summaries, examples, only the options meant for a
server, clean metavars, and the exit codes each command can really return."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from ispa_acmewrap import helptext
from ispa_acmewrap.cli import app

COMMANDS = [["install"], ["issue"], ["renew"], ["upgrade"], ["repair"], ["status"], ["doctor"], ["cron"],
            ["cron", "install"], ["cron", "remove"], ["cron", "show"], ["backups"], ["backups", "list"],
            ["backups", "restore"]]


def help_of(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_top_level_list_shows_every_summary_whole():
    text = " ".join(help_of().split())
    group = get_command(app)
    for name in group.list_commands(None):
        summary = " ".join((group.get_command(None, name).help or "").split("\n\n")[0].split())
        assert summary and summary in text, name
    commands = help_of().split("Commands:")[1]
    assert "..." not in commands and "…" not in commands


def test_someone_coming_from_certificate_pl_is_told_to_look_first():
    text = " ".join(help_of().split())
    assert "Coming from certificate.pl? Run `ispa-cert status` and `ispa-cert doctor` first" in text


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_line_is_wider_than_100_columns_and_metavars_are_clean(command):
    text = help_of(*command)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "<str>" not in text and "[default:" not in text and "--no-skip" not in text
    assert "\\b" not in text and "\b" not in text


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in (["cron"], ["backups"])], ids=" ".join)
def test_every_command_has_examples(command):
    assert re.search(r"^  Examples?:$", help_of(*command), re.M)


def test_the_test_stacks_options_are_hidden_but_accepted(tmp_path):
    text = help_of("issue")
    assert "--server" not in text.replace("--server-ip", "") and "--ca-bundle" not in text
    result = CliRunner().invoke(app, ["--root", str(tmp_path), "issue", "-a", "--server", "ftp://ca.invalid/dir"])
    assert result.exit_code == 2
    assert "No such option" not in result.output
    assert "https://HOST/" in result.stderr  # the value was read and refused by the settings check


@pytest.mark.parametrize("command, codes", [
    (["issue"], {0, 1, 2, 3, 4, 5, 6, 70, 130}), (["renew"], {0, 1, 2, 3, 4, 5, 6, 70, 130}),
    (["status"], {0, 2, 3, 70, 130}), (["cron", "show"], {0, 2, 3, 70, 130}), (["backups", "list"], {0, 2, 3, 70, 130}),
    (["cron", "install"], {0, 1, 2, 3, 5, 70, 130}), (["backups", "restore"], {0, 1, 2, 3, 5, 6, 70, 130}),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_the_exit_code_epilog_names_only_the_codes_the_command_can_return(command, codes):
    text = " ".join(help_of(*command).split())
    epilog = text[text.index("Exit codes: "):]
    named = {int(code) for code in re.findall(r"(?:: |, )(\d+) ", epilog)}
    assert named == codes


def test_doctor_keeps_the_monitoring_plugin_codes():
    text = " ".join(help_of("doctor").split())
    assert "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN" in text and "Exit codes: " not in text


def test_every_option_help_is_used():
    declared = {param.opts[0] for command in get_command(app).commands.values()
                for sub in getattr(command, "commands", {"": command}).values() for param in sub.params}
    unused = {key for key in helptext.OPTION if key.split()[-1].split("/")[0] not in declared | {"--root",
              "--verbose", "--version", "--lang"}}
    assert unused == set()
