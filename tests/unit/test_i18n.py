"""The language of the messages: --lang, the locale variables in their order, the answers accepted,
and the English source a translated message keeps for the log and --json."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ispa_acmewrap import i18n
from ispa_acmewrap.i18n import Text, _, english, english_document, ngettext
from tests.conftest import ispa_cert_executable

LANG_HELP_CS = "Jazyk zpráv"


@pytest.fixture
def czech():
    i18n.set_language("cs")
    yield
    i18n.set_language("en")


@pytest.mark.parametrize(("environment", "expected"), [
    ({}, "en"),
    ({"LANG": "cs_CZ.UTF-8"}, "cs"),
    ({"LANG": "cs_CZ"}, "cs"),
    ({"LANG": "cs"}, "cs"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "cs_CZ.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "cs_CZ.UTF-8"}, "cs"),
    ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "cs_CZ.UTF-8", "LANG": "cs_CZ.UTF-8"}, "en"),
    ({"LC_ALL": "cs_CZ.UTF-8", "LANG": "en_US.UTF-8"}, "cs"),
    ({"LC_ALL": "", "LANG": "cs_CZ.UTF-8"}, "cs"),  # set but empty counts as unset
    ({"LANGUAGE": "cs:en", "LANG": "en_US.UTF-8"}, "cs"),  # GNU: LANGUAGE first ...
    ({"LANGUAGE": "cs", "LANG": "C"}, "en"),  # ... but not in the C locale
    ({"LANGUAGE": "cs"}, "en"),
    ({"LANGUAGE": "de:cs", "LANG": "de_DE.UTF-8"}, "cs"),
])
def test_the_locale_variables_choose_the_language_in_their_order(environment, expected):
    assert i18n.from_environment(environment) == expected


@pytest.mark.parametrize(("argv", "expected"), [
    (["--lang", "cs", "status"], "cs"),
    (["--lang=cs", "status"], "cs"),
    (["--root", "/tmp/x", "--lang", "en", "status"], "en"),
    (["--lang", "de", "status"], "en"),  # Typer refuses it; until then English
    (["status"], "cs"),  # from LANG below
    (["issue", "--", "--lang", "en"], "cs"),
])
def test_lang_on_the_command_line_goes_before_the_locale(argv, expected):
    assert i18n.resolve(argv, {"LANG": "cs_CZ.UTF-8"}) == expected


def test_czech_accepts_a_and_ano_as_well_as_y(czech):
    assert [i18n.answer(reply) for reply in ("a", "A", "ano", " Ano ", "y", "yes")] == [True] * 6
    assert [i18n.answer(reply) for reply in ("n", "ne", "N", "no")] == [False] * 4
    assert i18n.answer("x") is None


def test_english_does_not_take_a_for_yes():
    i18n.set_language("en")
    assert i18n.answer("y") is True and i18n.answer("n") is False
    assert i18n.answer("a") is None and i18n.answer("ano") is None


def test_a_translated_message_keeps_its_english_source(czech):
    message = _("Language of the messages (default: from LC_ALL, LC_MESSAGES, LANG). "
                "--json, the crontab line and the log stay English.")
    assert message.startswith(LANG_HELP_CS)
    assert english(message).startswith("Language of the messages")
    formatted = Text("{name} má chybu", "{name} is wrong").format(name=Text("jméno", "name"))
    assert (str(formatted), formatted.english) == ("jméno má chybu", "name is wrong")
    joined = formatted + "!"
    assert (str(joined), joined.english) == ("jméno má chybu!", "name is wrong!")
    assert english_document({"a": [formatted, 1], "b": "plain"}) == {"a": ["name is wrong", 1], "b": "plain"}


def test_czech_has_three_plural_forms(czech):
    translations = i18n._translations()
    forms = [translations.plural(count) for count in (1, 2, 4, 5, 0, 22)]  # type: ignore[attr-defined]
    assert forms == [0, 1, 1, 2, 2, 2]
    assert ngettext("{count} name", "{count} names", 5).english == "{count} names"


def _help(*arguments: str, **environment: str) -> str:
    clean = {key: value for key, value in os.environ.items()
             if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    result = subprocess.run([ispa_cert_executable(), *arguments, "--help"], env={**clean, **environment},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_is_czech_with_lang_cs_or_a_czech_locale_and_english_otherwise():
    assert LANG_HELP_CS in _help("--lang", "cs")
    assert LANG_HELP_CS in _help(LANG="cs_CZ.UTF-8")
    assert LANG_HELP_CS in _help(LC_MESSAGES="cs_CZ.UTF-8", LANG="en_US.UTF-8")
    assert LANG_HELP_CS not in _help(LC_ALL="en_US.UTF-8", LANG="cs_CZ.UTF-8")
    assert LANG_HELP_CS not in _help("--lang", "en", LANG="cs_CZ.UTF-8")
    assert "Language of the messages" in _help()


def test_the_manual_page_is_english_whatever_the_installers_locale():
    page = subprocess.run([sys.executable, "-m", "ispa_acmewrap.manpage"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LANG": "cs_CZ.UTF-8"}, check=True).stdout
    assert "Language of the messages" in page and LANG_HELP_CS not in page


def test_a_czech_question_takes_a_for_yes_and_asks_again_in_czech(czech, monkeypatch, capsys):
    from ispa_acmewrap.console import Console

    replies = iter(["x", "a"])
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or next(replies))
    assert Console(interactive=True).confirm(_("Are the DNS records correct?"), default=False) is True
    assert prompts == ["Jsou DNS záznamy správné? [a/N] "] * 2
    assert "Odpovězte prosím a (ano), nebo n (ne)." in capsys.readouterr().out
    monkeypatch.setattr("builtins.input", lambda prompt: "ne")
    assert Console(interactive=True).confirm("?", default=True) is False


def test_yes_answers_in_the_language_of_the_run(czech, capsys):
    from ispa_acmewrap.console import Console

    assert Console(interactive=False, assume_yes=True).confirm(_("Remove it now?"), default=True) is True
    assert capsys.readouterr().out == "Odstranit ji teď? ano (--yes)\n"


def test_doctor_in_czech_keeps_its_plugin_line_and_json_english(czech):
    import json
    from datetime import datetime, timezone

    from ispa_acmewrap import health, report

    findings = (health.apache_running_finding(None, None), health.state_finding(None, None, 2))
    doctor = health.DoctorReport(findings, (), (), None, datetime(2026, 1, 1, tzinfo=timezone.utc))
    first, *human = report.doctor_text(doctor).splitlines()
    assert first == ("ISPA-CERT UNKNOWN - 1 unknown: apache-running: cannot tell whether Apache runs: "
                     "apache2ctl -S gave no PidFile")
    assert human[0].startswith("UNKNOWN apache-running: nelze zjistit, zda Apache běží")
    assert "-- oprava: nejdřív zajistěte" in human[0]
    assert human[1] == "OK      state: 2 evidovaná doménová jména"
    document = json.loads(report.to_json(report.doctor_document(doctor)))
    assert [check["message"] for check in document["checks"]] == [
        "cannot tell whether Apache runs: apache2ctl -S gave no PidFile", "2 names on record"]
    assert document["summary"] == first.split(" - ", 1)[1]
    assert report.doctor_failure_line(_("no output")) == "ISPA-CERT UNKNOWN - doctor could not run: no output"


def test_progress_lines_are_czech_on_screen_and_english_in_the_log(czech, capsys, caplog):
    import logging

    from ispa_acmewrap.console import Console

    with caplog.at_level(logging.INFO):
        Console(interactive=False).step(_("Checking DNS of {names}").format(names="isp.example.net"))
    assert capsys.readouterr().out == "==> Kontroluji DNS záznamy isp.example.net\n"
    assert "step: Checking DNS of isp.example.net" in caplog.text
