"""`ispa-cert` at a terminal, driven through a pseudo-terminal as an administrator would use it.

Names are typed (one pasted as a URL), the DNS question is answered `n`, then the run is
repeated and answered `y`, the install is declined and then done with the command the summary
names; a run is interrupted with Ctrl-C. What is checked is what is on the screen (100 columns):
the progress lines, the questions, the last line, no line wider than the terminal, acme.sh's own
lines only with -v, colour on a terminal and never in a pipe or with NO_COLOR.

One stack serves the whole module (the tests run in order and build on each other's state).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest

from ispa_acmewrap import state as state_store
from tests.conftest import ispa_cert_executable
from tests.e2e.support import ADMIN, PORTAL, serial_on_disk, serial_served
from tests.stack import Stack, make_sandbox
from tests.terminal import ANSI, TerminalSession

pytestmark = pytest.mark.e2e

COLUMNS = 100
# acme.sh's own output: its timestamped lines and the paths it announces
RAW_ACME = re.compile(r"^\s*\[\w{3} \w{3} +\d+ [\d:]+ \w+ \d{4}\]|Your cert is in|Cert success|Le_OrderFinalize", re.M)
ELAPSED = r"(\(\d+ s\) )?"  # a step that took long says how long
FIRST_RUN = ["issue", "-a", "-c", "--server-ip", "127.0.0.1"]


@pytest.fixture(scope="module")
def stack(module_stack):
    return module_stack


@pytest.fixture
def session(stack):
    """Starts ispa-cert on a pty against the module's stack; a session a failed test left running is
    stopped (it may hold the run lock at a question, which would stall every later test)."""
    started: list[TerminalSession] = []

    def start(args: list[str], **env: str) -> TerminalSession:
        started.append(TerminalSession(args, {**stack.tool_env(), **env}, columns=COLUMNS))
        return started[-1]

    yield start
    for screen in started:
        screen.stop()


def test_dns_no_then_yes_then_decline_then_install(stack, session):
    # 1. the names are typed (one pasted as a URL); the DNS question answered n
    first = session(FIRST_RUN)
    first.expect(r"Domain name of the ISPadmin administration interface: ")
    first.type_line(f"https://{ADMIN}/login")
    first.expect(r"Domain name of the client portal: ")
    first.type_line(PORTAL)
    first.expect(r"Are the DNS records correct\? \[y/N\] ")
    assert f"{ADMIN}   127.0.0.1" in first.plain  # the URL was reduced to its host name
    first.type_line("n")
    shown = first.finished(3)
    assert "error: stopped: the DNS records are to be fixed first" in shown
    assert "\x1b[1;31merror:\x1b[0m" in first.text  # red on a terminal
    record = state_store.load_state(stack.paths.state_file)  # offered next time, not on record
    assert (record.typed, record.roles) == ({"admin": ADMIN, "client": PORTAL}, {})

    # 2. the names are offered again; DNS y; one progress line per name; the install declined
    second = session(FIRST_RUN)
    second.expect(rf"interface \[{re.escape(ADMIN)}\]: ")
    second.type_line("")
    second.expect(rf"client portal \[{re.escape(PORTAL)}\]: ")
    second.type_line("")
    second.expect(r"Are the DNS records correct\? \[y/N\] ")
    assert "\x1b[32mok\x1b[0m" in second.text  # the verdicts in colour
    mark = len(second.plain)
    second.type_line("y")
    question = second.expect(r"Install the certificates into the Apache configuration\? \[Y/n\] ", since=mark)
    lines = second.screen_lines()
    for name in (ADMIN, PORTAL):
        progress = [line for line in lines if line.startswith(f"{name}: ordering… ")]
        assert len(progress) == 1, second.plain
        assert re.fullmatch(rf"{re.escape(name)}: ordering… {ELAPSED}validating… {ELAPSED}(signing… {ELAPSED})?"
                            r"issued, valid until \d{4}-\d\d-\d\d", progress[0]), progress[0]
    assert not RAW_ACME.search(second.plain[:question.start()]), second.plain
    assert "acme-challenge/" not in second.plain  # the self-test's token URL only with -v
    second.type_line("n")
    shown = second.finished(0)
    summary = shown[shown.rindex("name  "):]
    for name in (ADMIN, PORTAL):
        assert re.search(rf"^{re.escape(name)}\s+\w+\s+issued\s+\d{{4}}-\d\d-\d\d \d\d:\d\d UTC$", summary, re.M), summary
    advice = shown[shown.index("To install them, run:"):].splitlines()[1:]
    rerun = " ".join(line.strip().removesuffix("\\").strip() for line in advice if line.strip())
    assert rerun == (f"ispa-cert --root {stack.root} issue -a --admin-domain {ADMIN} -c --client-domain {PORTAL} "
                     "--server-ip 127.0.0.1"), shown
    assert not stack.paths.live(ADMIN).cert.exists()

    # 3. the command the summary named installs them
    third = session(shlex.split(rerun)[1:])
    third.expect(r"Are the DNS records correct\? \[y/N\] ")
    third.type_line("y")
    third.expect(r"Install the certificates into the Apache configuration\? \[Y/n\] ")
    third.type_line("y")
    shown = third.finished(0)
    last = shown.strip().splitlines()[-1]
    assert last == f"done: {ADMIN}, {PORTAL} now answer over HTTPS."
    assert "\x1b[1;32mdone:\x1b[0m" in third.text
    assert serial_served(stack, ADMIN) == serial_on_disk(stack.paths, ADMIN)


def test_ctrl_c_while_acme_sh_works_rolls_back(stack, session):
    before = serial_on_disk(stack.paths, ADMIN)
    main_config = stack.paths.apache_main_config.read_bytes()
    screen = session(["issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--force", "--yes"])
    screen.expect(rf"^{re.escape(ADMIN)}: ordering… ", timeout=120)
    screen.interrupt(at_question=False)
    shown = screen.finished(130)
    assert shown.rstrip().endswith("interrupted"), shown
    assert stack.paths.apache_main_config.read_bytes() == main_config
    assert serial_on_disk(stack.paths, ADMIN) == before == serial_served(stack, ADMIN)


def test_ctrl_c_at_a_question_changes_nothing(stack, session):
    include = stack.paths.vhost_include.read_bytes()
    screen = session(["issue", "-d", "--server-ip", "127.0.0.1"])
    screen.expect(r"Domain name of the dealer portal: ")
    screen.interrupt()
    shown = screen.finished(130)
    assert shown.rstrip().endswith("interrupted"), shown
    assert stack.paths.vhost_include.read_bytes() == include


def test_dns_elsewhere_confirmed_anyway_is_blamed_on_dns_once(stack, session):
    stack.dns.set_a(PORTAL, ["192.0.2.44"])
    try:
        screen = session(["issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.1"])
        screen.expect(r"Are the DNS records correct\? \[y/N\] ")
        screen.type_line("y")
        shown = screen.finished(3)
    finally:
        stack.dns.clear_a(PORTAL)
    assert f"error: not sent to the CA: {PORTAL}: DNS: points elsewhere (192.0.2.44)" in shown
    assert "firewall" not in shown and "48 hours" in shown
    assert " ".join(shown.split()).count("change the A record") == 1  # the advice once, with the DNS check


def test_colour_only_on_a_terminal_and_output_that_fits(stack, session):
    coloured = session(["status"])
    shown = coloured.finished(0)
    assert re.search(rf"^{re.escape(ADMIN)} .* yes$", shown, re.M)
    assert "\x1b[32myes\x1b[0m" in coloured.text

    plain = session(["status"], NO_COLOR="1")
    plain.finished(0)
    assert not ANSI.search(plain.text)

    piped = subprocess.run([ispa_cert_executable(), "status"], env={**os.environ, **stack.tool_env()},
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert piped.returncode == 0 and ADMIN in piped.stdout
    assert "\x1b[" not in piped.stdout + piped.stderr


def test_a_closed_pipe_ends_the_output_quietly(stack):
    """`ispa-cert status | head`: the reader is gone before status writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = subprocess.run([ispa_cert_executable(), "status", "--wide"], env={**os.environ, **stack.tool_env()},
                            stdout=write_end, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    os.close(write_end)
    assert (closed.returncode, closed.stderr) == (0, "")


def test_verbose_streams_acme_sh(stack, session):
    screen = session(["-v", "issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--yes"])
    shown = screen.finished(0, fits=False)  # programs' own lines are shown as they are
    assert RAW_ACME.search(shown), shown
    assert re.search(rf"^{re.escape(ADMIN)}: kept: the current certificate is valid until \d{{4}}-\d\d-\d\d", shown,
                     re.M), shown


def test_a_stopped_apache_is_named_first_and_never_started(stack, session):
    stack.apache.stop()
    try:
        issue = session(FIRST_RUN)
        shown = issue.finished(3)
        assert shown.startswith("error: Apache is not running"), shown  # before any question
        renewed = session(["renew", "--force"])
        shown = renewed.finished(3)
        assert "error: Apache is not running" in shown and "never starts an Apache" in shown
        assert stack.apache.pid() is None
    finally:
        stack.apache.start()
