"""`ispa-cert issue` in Czech at a real terminal (tests/terminal.py's pseudo-terminal, 100 columns),
as an administrator with LANG=cs_CZ.UTF-8 meets it: the name question, the DNS table and question,
an answer it does not understand, `n`, and Ctrl-C. Against a sandbox Apache and a real DNS server
(pebble-challtestsrv); the CA is never reached, so no Pebble is needed. About 10 s.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.terminal import TerminalSession

pytestmark = pytest.mark.e2e

ADMIN = "admin.ispa.test"
COLUMNS = 100


@pytest.fixture
def czech_issue(sandbox_root, apache, dns_server):
    """Starts `issue -a` in Czech on a pty against the sandbox; yields a starter, stops what is left."""
    started: list[TerminalSession] = []
    environment = {"LANG": "cs_CZ.UTF-8", "ISPA_ROOT": str(sandbox_root), "ISPA_DNS_SERVER": dns_server.dns_server,
                   "ISPA_ACME_SERVER": "https://127.0.0.1:9/dir",  # never a real CA, whatever the answers
                   **apache.tool_env()}

    def start() -> TerminalSession:
        session = TerminalSession(["issue", "-a", "--server-ip", "127.0.0.1"], environment, columns=COLUMNS)
        started.append(session)
        return session

    yield start
    for session in started:
        session.stop()


def _to_the_dns_question(session: TerminalSession) -> None:
    session.expect(re.escape("Doménové jméno administračního rozhraní ISPadminu: "))
    session.type_line(ADMIN)
    session.expect(re.escape(f"Kontroluji DNS záznamy {ADMIN}"))
    session.expect(re.escape("Jsou DNS záznamy správné? [a/N] "))


def test_czech_questions_an_unknown_answer_and_ctrl_c(czech_issue):
    session = czech_issue()
    _to_the_dns_question(session)
    assert "Adresy tohoto serveru: 127.0.0.1" in session.plain
    assert re.search(rf"{re.escape(ADMIN)} +127\.0\.0\.1 .* v pořádku", session.plain), session.plain
    session.type_line("x")
    session.expect(re.escape("Odpovězte prosím a (ano), nebo n (ne)."))
    session.interrupt()
    shown = session.finished(130)
    assert shown.rstrip().splitlines()[-1] == "přerušeno"


def test_czech_no_stops_before_anything_changes(czech_issue, sandbox_paths):
    include = sandbox_paths.vhost_include.read_bytes()
    session = czech_issue()
    _to_the_dns_question(session)
    session.type_line("n")
    shown = " ".join(session.finished(3).split())
    assert "chyba: zastaveno: nejdřív je třeba opravit DNS záznamy; nic nebylo změněno" in shown
    assert "nápověda: opravte záznamy A/AAAA (a CAA) u svého poskytovatele DNS" in shown
    assert not sandbox_paths.acme_home.exists() and sandbox_paths.vhost_include.read_bytes() == include
    assert not os.path.exists(sandbox_paths.temp_site)
