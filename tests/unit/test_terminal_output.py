"""How output looks at a terminal and in a pipe; the advice texts that must be right."""

from __future__ import annotations

import io
import os
import shlex
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from ispa_acmewrap import acme, dns, report, state, terminal
from ispa_acmewrap.names import normalize_name, shown_name
from ispa_acmewrap.outcomes import Outcome
from ispa_acmewrap.progress import NameProgress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color_or_cron(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert terminal.colour_wanted(Tty())
    assert not terminal.colour_wanted(io.StringIO())  # a pipe or a file
    assert not terminal.colour_wanted(Tty(), quiet=True)  # --cron
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.colour_wanted(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not terminal.colour_wanted(Tty())


def test_a_coloured_table_keeps_its_columns():
    rows = [("admin.isp.cz", "ok", "x"), ("portal.isp.cz", "points elsewhere", "y")]
    plain = report.table(("name", "verdict", "z"), rows, verdicts=(1,))
    coloured = report.table(("name", "verdict", "z"), rows, verdicts=(1,), colour=True)
    assert terminal.ANSI.sub("", coloured) == plain
    assert "\x1b[32mok\x1b[0m" in coloured and "\x1b[31mpoints elsewhere\x1b[0m" in coloured


def test_prose_is_wrapped_on_a_terminal_only():
    line = "error: " + "word " * 40
    assert terminal.wrap(line, None) == line
    wrapped = terminal.wrap(line.rstrip(), 60, indent="  ")
    assert all(len(part) <= 60 for part in wrapped.splitlines()) and wrapped.splitlines()[1].startswith("  word")


def test_a_closed_pipe_silences_the_stream():
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w")
    terminal.write(stream, "x" * 100000)  # no BrokenPipeError escapes
    terminal.write(stream, "more")
    stream.close()


def test_progress_line_names_each_step_once(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    progress = NameProgress(SimpleNamespace(quiet=False, verbose=False), "xn--mnchen-3ya.de")
    for line in ("[Fri Nov 27 19:32:50 UTC 2026] Single domain='xn--mnchen-3ya.de'",
                 "[Fri Nov 27 19:32:52 UTC 2026] Verifying: xn--mnchen-3ya.de",
                 "[Fri Nov 27 19:32:53 UTC 2026] Processing. The CA is processing your order, please wait. (1/30)",
                 "[Fri Nov 27 19:32:57 UTC 2026] Verification finished, beginning signing.",
                 "[Fri Nov 27 19:32:57 UTC 2026] Let's finalize the order.",
                 "[Fri Nov 27 19:33:01 UTC 2026] Downloading cert."):
        progress.feed(line)
    progress.finish("issued, valid until 2027-02-25")
    assert out.getvalue() == ("münchen.de (xn--mnchen-3ya.de): ordering… validating… signing… "
                              "issued, valid until 2027-02-25\n")
    assert acme.progress_step("[Fri Nov 27 19:32:52 UTC 2026] Verify finished, start to sign.") == "signing"


def test_a_pasted_url_is_reduced_to_its_host_name():
    assert normalize_name("https://Admin.ISP.cz/login?next=/") == "admin.isp.cz"
    assert normalize_name("http://portal.isp.cz:8080") == "portal.isp.cz"
    assert shown_name("admin.isp.cz") == "admin.isp.cz"


def test_no_ipv6_address_is_proposed_for_an_a_record():
    empty = dns.Lookup()
    finding = dns.judge("new.isp.cz", dns.NameLookups(empty, empty, empty), {"192.0.2.2", "2001:db8::2"}, 4)
    assert finding.verdict is dns.Verdict.NO_ADDRESS
    assert "add an A record pointing to 192.0.2.2 (and an AAAA record pointing to 2001:db8::2)" in finding.message
    only_v6 = dns.judge("new.isp.cz", dns.NameLookups(empty, empty, empty), {"2001:db8::2"}, 4)
    assert "an A record pointing to 2001:db8::2" not in only_v6.message
    assert "add an AAAA record pointing to 2001:db8::2" in only_v6.message


def test_the_command_to_install_later_fits_and_is_the_same_command():
    argv = ("ispa-cert", "--root", "/tmp/ispa-sandbox-abcdefgh", "issue", "-a", "--admin-domain", "admin.isp.cz",
            "-c", "--client-domain", "klientsky-portal.example-provider.cz", "--server-ip", "203.0.113.7",
            "--client-docroot", "/srv/www/portal with space")
    text = report.shell_lines(argv, indent="  ")
    assert all(len(line) <= 100 for line in text.splitlines()) and len(text.splitlines()) > 1
    assert tuple(shlex.split(text.replace("\\\n", " "))) == argv


def test_summary_after_a_declined_install_names_the_command_and_the_expiry():
    moment = datetime(2027, 2, 25, 10, 4, tzinfo=timezone.utc)
    entry = SimpleNamespace(name="admin.isp.cz", role="admin", outcome=Outcome.ISSUED,
                            certificate=SimpleNamespace(not_after=moment), reason="")
    result = SimpleNamespace(names=[entry], installed=False, cron_change=None,
                             rerun=("ispa-cert", "issue", "-a", "--admin-domain", "admin.isp.cz"))
    text = report.issue_summary(SimpleNamespace(paths=None), result)
    assert "2027-02-25 10:04 UTC" in text
    assert "The certificate was obtained but not installed into Apache. To install it, run:" in text
    assert text.endswith("\n  ispa-cert issue -a --admin-domain admin.isp.cz")


def test_names_typed_before_a_dns_no_are_offered_but_not_on_record(tmp_path):
    path = tmp_path / "state.json"
    record = state.with_typed(state.State(), "admin", "admin.isp.cz")
    state.save_state(path, record)
    loaded = state.load_state(path)
    assert loaded.typed == {"admin": "admin.isp.cz"} and state.names_on_record(loaded) == []
    confirmed = state.with_role(loaded, "admin", "admin.isp.cz")
    assert confirmed.typed == {} and state.names_on_record(confirmed) == ["admin.isp.cz"]


@pytest.mark.parametrize("cell, style", [("ok", "good"), ("served", "good"), ("not due", "caution"),
                                         ("unreachable", "bad"), ("-", None)])
def test_verdict_styles(cell, style):
    assert terminal.verdict_style(cell) == style
