"""Taking over a server certificate.pl managed for years (tests/legacy.py builds it on the real stack).

One legacy server per test: the takeover changes it. Each test starts from the untouched server.
"""

from __future__ import annotations

import difflib
import json
import os
import pty
import re
import socket
import subprocess
import time

import pytest

from ispa_acmewrap import acme, certs, state as state_store, transaction
from tests.conftest import ToolRunner, ispa_cert_executable
from tests.e2e.support import HttpsWatch, SiteWatch, account_keys, serial_served
from tests.legacy import ADMIN, ADMIN_MARKERS, PORTAL, build_legacy_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def legacy(stack):
    return build_legacy_server(stack)


@pytest.fixture
def tool(stack) -> ToolRunner:
    return ToolRunner(stack.tool_env())


def serial_of(path) -> int:
    return certs.read_certificate(path).serial


def test_untouched_server_is_seen_whole_then_renewed_as_the_guide_did(legacy, tool, stack):
    """doctor and status on the untouched server, then renew --force, then the guide's manual renewal."""
    doctor = tool("doctor", "--server-ip", "127.0.0.1", "--dns-timeout", "2", "--json")

    report = json.loads(doctor.stdout)
    assert (doctor.returncode, report["status"]) == (1, "WARNING"), doctor.stdout + doctor.stderr
    states = {(check["check"], check["subject"]): check for check in report["checks"]}
    assert states[("cron", None)]["state"] == "WARN" and "cron install" in states[("cron", None)]["fix"]
    assert states[("cron-other", None)]["state"] == "WARN"
    assert str(legacy.cron_d_file) in states[("cron-other", None)]["message"]
    assert str(legacy.root_crontab) in states[("cron-other", None)]["message"]
    assert states[("acme-alias", None)]["state"] == "WARN"  # acme.sh 3.1.1 left its Alias in apache2.conf
    assert not [check for check in report["checks"] if check["state"] == "CRIT"]
    assert states[("served", ADMIN)]["state"] == states[("served", PORTAL)]["state"] == "OK"

    status = tool("status", "--json")

    assert status.returncode == 0, status.stdout + status.stderr
    rows = {row["name"]: row for row in json.loads(status.stdout)["certificates"]}
    assert rows[ADMIN]["key_type"] == "RSA 2048" and rows[PORTAL]["key_type"] == "ECDSA P-256"
    for name in (ADMIN, PORTAL):
        assert rows[name]["file"] == str(legacy.served_file(name))  # what the *:443 vhost points at
        assert rows[name]["installed"] is True and rows[name]["served"] is True

    _renew_force_renews_both_layouts_and_the_guides_manual_renewal_still_works(legacy, tool, stack)


def _renew_force_renews_both_layouts_and_the_guides_manual_renewal_still_works(legacy, tool, stack):
    accounts = account_keys(stack.paths)
    before = {name: serial_of(legacy.served_file(name)) for name in (ADMIN, PORTAL)}
    include_before = stack.paths.vhost_include.read_text()

    with HttpsWatch(stack, [ADMIN, PORTAL]) as watch:
        result = tool("renew", "--force")

    assert result.returncode == 0, result.stdout + result.stderr
    assert watch.polls and not watch.gaps
    for name in (ADMIN, PORTAL):
        renewed = serial_of(legacy.served_file(name))
        assert renewed != before[name] and serial_served(stack, name) == renewed
    assert certs.read_certificate(legacy.served_file(ADMIN)).key_type == "RSA 2048"  # RSA stays RSA
    assert certs.read_certificate(legacy.served_file(PORTAL)).key_type == "ECDSA P-256"
    assert not (stack.paths.cert_home / f"{ADMIN}_ecc").exists()
    assert "acme-challenge" not in stack.paths.apache_main_config.read_text()  # stale Aliases removed
    assert stack.paths.vhost_include.read_text() == include_before  # the admin's lines are untouched
    assert account_keys(stack.paths) == accounts  # the same ACME account throughout

    after_takeover = {name: serial_of(legacy.served_file(name)) for name in (ADMIN, PORTAL)}
    manual = legacy.guide_renew_all(force=True)

    assert manual.returncode == 0, manual.stdout[-3000:] + manual.stderr
    assert manual.stdout.count("Cert success") == 2
    for name in (ADMIN, PORTAL):
        assert serial_of(legacy.served_file(name)) != after_takeover[name]
    assert account_keys(stack.paths) == accounts
    https = stack.https_get(PORTAL)[1]
    assert b"portal.ispa.test" in https and b'X-Ispadmin: legacy' not in https
    assert b"X-Ispadmin: legacy" in stack.https_get(ADMIN)[1]  # the admin's Header line still in effect
    assert all(marker in stack.paths.vhost_include.read_text() for marker in ADMIN_MARKERS)


def test_cron_takeover_never_abandons_a_renewal(legacy, tool, stack):
    """Declining the install keeps the old jobs; cron install refuses to drop a certificate, then adopts it."""
    crontab_before = stack.paths.crontab.read_bytes()
    output = _answering(tool, ["issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.1", "--force"],
                        {"Are the DNS records correct?": b"y\n", "Create a temporary configuration": b"n\n",
                         "Install the certificates": b"n\n"})
    assert "Install the certificates into the Apache configuration?" in output
    assert stack.paths.crontab.read_bytes() == crontab_before, output
    assert "#disabled" not in legacy.root_crontab.read_text()

    legacy.issue_by_hand("webmail.ispa.test")  # held by acme.sh, served by nothing Apache knows

    refused = tool("cron", "install", "--yes")

    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "webmail.ispa.test" in refused.stderr and "--adopt" in refused.stderr
    assert stack.paths.crontab.read_bytes() == crontab_before
    assert "#disabled" not in legacy.root_crontab.read_text()

    bad_schedule = tool("cron", "install", "--adopt", "--yes", "--schedule", "every sunday")

    assert bad_schedule.returncode == 2, bad_schedule.stdout + bad_schedule.stderr
    assert state_store.load_state(stack.paths.state_file).adopted == ()  # refused: nothing adopted
    assert stack.paths.crontab.read_bytes() == crontab_before

    adopted = tool("cron", "install", "--adopt", "--yes")

    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    lines = stack.paths.crontab.read_text().splitlines()
    assert [line for line in lines if "renew" in line and "ispa-cert" in line and line.endswith("# ispa-cert renew")]
    assert not [line for line in lines if "--renewAll" in line]
    assert crontab_before.decode().replace(_legacy_line(crontab_before), "") == \
        stack.paths.crontab.read_text().replace(_our_line(stack), "")  # every other byte kept
    assert legacy.cron_d_file.read_text().splitlines()[1].startswith("#disabled by ispa-cert")
    assert legacy.root_crontab.read_text().splitlines()[1].startswith("#disabled by ispa-cert")
    assert state_store.load_state(stack.paths.state_file).adopted == ("webmail.ispa.test",)
    backup = re.search(r"backup (\d{8}-\d{6}\S*)", adopted.stdout).group(1)
    manifest = json.loads((stack.paths.backups_dir / backup / "manifest.json").read_text())
    assert {entry["path"] for entry in manifest["entries"]} == {str(legacy.cron_d_file), str(legacy.root_crontab)}

    renewed = tool("renew", "--force", "--cron")

    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert "webmail.ispa.test" in renewed.stdout and ADMIN in renewed.stdout and PORTAL in renewed.stdout
    # ispa-cert issued PORTAL through its webroot: acme.sh remembers that, and the guide's manual
    # renewal (--apache given, Le_Webroot decides) validates it through the challenge Alias.
    assert acme.read_domain_conf(stack.paths, PORTAL)["Le_Webroot"] == str(stack.paths.acme_webroot)
    assert acme.read_domain_conf(stack.paths, ADMIN)["Le_Webroot"] == "apache"
    served_before = {name: serial_of(legacy.served_file(name)) for name in (ADMIN, PORTAL)}

    manual = legacy.guide_renew_all(force=True)

    assert manual.returncode == 0, manual.stdout[-3000:] + manual.stderr
    assert manual.stdout.count("Cert success") == 3
    for name in (ADMIN, PORTAL):
        assert serial_of(legacy.served_file(name)) != served_before[name]


KEY_TYPES = {ADMIN: "RSA 2048", PORTAL: "ECDSA P-256"}  # as certificate.pl left them (tests/legacy.py)
CERTIFICATE_LINE = re.compile(r"^\s*(# )?SSLCertificate(File|KeyFile|ChainFile) ")


def test_issue_takes_over_while_every_name_keeps_serving_its_own_site(legacy, tool, stack):
    """An administrator's migration, `issue -a -c --yes`, with every name fetched over HTTPS all along;
    then a second issue, and the guide's manual forced renewal typed by hand afterwards."""
    paths, names = stack.paths, [ADMIN, PORTAL]
    include_before, crontab_before = paths.vhost_include.read_text(), paths.crontab.read_bytes()
    other_jobs_before = {path: path.read_bytes() for path in (legacy.cron_d_file, legacy.root_crontab)}
    accounts = account_keys(paths)
    assert {name: _http_page(stack, name) for name in names} == {name: (200, True) for name in names}
    issue = ("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL, "--server-ip", "127.0.0.1",
             "--yes")  # both names have their own port-80 vhost: no document root to give

    with SiteWatch(stack, names) as watch:
        watch.phase = "takeover"
        takeover = tool(*issue)
        watch.phase = "taken over"
        watch.wait_for_round()
        assert takeover.returncode == 0, takeover.stdout + takeover.stderr
        include_taken_over = paths.vhost_include.read_text()
        renew = tool("renew")  # not due: lists what the cron line now renews
        watch.phase = "second issue"
        second = tool(*issue)
        watch.phase = "issued again"
        watch.wait_for_round()
        assert second.returncode == 0, second.stdout + second.stderr
        doctor = tool("doctor", "--server-ip", "127.0.0.1", "--dns-timeout", "2", "--json")
        status = tool("status", "--json")
        watch.phase = "guide's renewal"
        manual = legacy.guide_renew_all(force=True)
        watch.phase = "after"
        watch.wait_for_round()

    # Every name served its own page, over verified HTTPS, with its own key type, all along.
    assert not watch.wrong(), watch.wrong()[:5]
    assert {answer.key_type for answer in watch.answers if answer.name == ADMIN} == {KEY_TYPES[ADMIN]}
    assert {answer.key_type for answer in watch.answers if answer.name == PORTAL} == {KEY_TYPES[PORTAL]}
    for name in names:
        assert [phase for phase in ("before", "takeover", "taken over", "second issue", "issued again",
                                    "guide's renewal", "after")
                if not any(a.name == name and a.phase == phase for a in watch.answers)] == []
    assert {name: _http_page(stack, name) for name in names} == {name: (200, True) for name in names}

    # The include changed in place: only the certificate lines, plus ispa-cert's marked block.
    _assert_only_certificate_lines_changed(include_before, include_taken_over, paths)
    assert paths.vhost_include.read_text() == include_taken_over  # the second issue kept every line

    # cron: the guide's line replaced in place, as ispa-cert now renews every certificate it renewed.
    assert renew.returncode == 0 and _renewed_names(renew.stdout) >= _acme_certificates(paths), renew.stdout
    assert paths.crontab.read_text() == crontab_before.decode().replace(_legacy_line(crontab_before),
                                                                        _our_line(stack))
    # disabled after the install: a step of issue's backup, so `backups restore` stays "before issue"
    assert not {str(path) for path in other_jobs_before} & {entry.path for backup in transaction.list_backups(paths)
                                                           for entry in backup.entries}
    backed_up = {entry.path: (backup.directory / entry.stored).read_bytes()
                 for backup in transaction.list_backups(paths, steps=True) for entry in backup.entries if entry.stored}
    for path, before in other_jobs_before.items():
        kept = path.read_text().splitlines(keepends=True)
        disabled = [line for line in kept if line.startswith("#disabled by ispa-cert")]
        assert len(disabled) == 1 and "".join(kept).replace(disabled[0], _job_line(before)) == before.decode()
        assert disabled[0].endswith(": " + _job_line(before))  # the job's bytes, commented out
        assert backed_up[str(path)] == before

    # status and doctor: no legacy warning; each served certificate shown.
    report = json.loads(doctor.stdout)
    assert (doctor.returncode, report["status"]) == (0, "OK"), doctor.stdout
    assert {check["subject"] for check in report["checks"] if check["check"] == "served"
            and check["state"] == "OK"} == set(names)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {row["name"]: row for row in json.loads(status.stdout)["certificates"]}
    served = {name: _last(watch, name, "issued again").serial for name in names}
    for name in names:
        assert rows[name]["file"] == str(paths.live(name).cert) and rows[name]["served"] is True
        assert (rows[name]["key_type"], int(rows[name]["serial"], 16)) == (KEY_TYPES[name], served[name])

    # The guide's manual forced renewal still works after the takeover, and is served.
    assert manual.returncode == 0, manual.stdout[-3000:] + manual.stderr
    assert manual.stdout.count("Cert success") == 2
    for name in names:
        renewed = serial_of(legacy.served_file(name))
        assert renewed != served[name] and serial_of(paths.live(name).cert) == renewed
        deadline = time.monotonic() + 15  # acme.sh's reload command only signals Apache
        while serial_served(stack, name) != renewed:
            assert time.monotonic() < deadline, f"Apache does not serve the renewed certificate of {name}"
            time.sleep(0.2)
    assert account_keys(paths) == accounts  # the same ACME account throughout


def _http_page(stack, name: str) -> tuple[int, bool]:
    """GET http://NAME/ on port 80: the status, and whether the page is the name's own."""
    with socket.create_connection(("127.0.0.1", stack.apache.http_port), timeout=10) as connection:
        connection.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1]), f"<h1>{name}</h1>".encode() in response


def _last(watch: SiteWatch, name: str, phase: str):
    return [answer for answer in watch.answers if answer.name == name and answer.phase == phase][-1]


def _assert_only_certificate_lines_changed(before: str, after: str, paths) -> None:
    """Every line of `before` is in `after` byte for byte, except SSLCertificate* lines, which now point
    at live/NAME/ (the chain file commented out); what is added besides is ispa-cert's marked block."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    begin = next(index for index, line in enumerate(new) if line.startswith("# BEGIN ispa-cert"))
    end = next(index for index, line in enumerate(new) if line.startswith("# END ispa-cert"))
    ours = set(range(begin - (new[begin - 1] == "\n"), end + 1))
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed, added = old[i1:i2], [new[j] for j in range(j1, j2) if j not in ours]
        assert len(removed) == len(added), (removed, added)
        for gone, line in zip(removed, added):
            assert CERTIFICATE_LINE.match(gone) and CERTIFICATE_LINE.match(line), (gone, line)
            assert str(paths.live_dir) in line or line.lstrip().startswith("# SSLCertificateChainFile"), line
    for name in (ADMIN, PORTAL):
        vhost = re.search(rf"<VirtualHost \*:\d+>\n\tServerName {re.escape(name)}\n(?:\t.*\n)*?"
                          rf"\tSSLCertificateFile (.*)\n\tSSLCertificateKeyFile (.*)\n", after)
        assert vhost.groups() == (str(paths.live(name).fullchain), str(paths.live(name).key)), name
    for marker in ADMIN_MARKERS:
        assert after.count(marker) == before.count(marker) == 1


def _renewed_names(renew_output: str) -> set[str]:
    """The names in the table `ispa-cert renew` prints."""
    return {fields[0] for fields in map(str.split, renew_output.splitlines()) if fields and "." in fields[0]}


def _acme_certificates(paths) -> set[str]:
    """The certificates acme.sh holds in the certificate home, either layout: what --renewAll renewed."""
    return {folder.name.removesuffix("_ecc") for folder in paths.cert_home.iterdir()
            if (folder / f"{folder.name.removesuffix('_ecc')}.conf").is_file()}


def _job_line(crontab: bytes) -> str:
    return next(line for line in crontab.decode().splitlines(keepends=True) if "acme.sh" in line)


def _answering(tool: ToolRunner, args: list[str], answers: dict[str, bytes]) -> str:
    """Run ispa-cert with a terminal on stdin; answer each question when it appears (not earlier: the
    programs it runs share that terminal). An unexpected question is answered with an empty line."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([ispa_cert_executable(), *args], stdin=terminal, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env={**os.environ, **tool.env})
    os.close(terminal)
    output = b""
    try:
        while chunk := os.read(process.stdout.fileno(), 4096):
            output += chunk
            last = output.rsplit(b"\n", 1)[-1]
            if last.rstrip().endswith((b"[y/N]", b"[Y/n]")):
                os.write(controller, next((answer for question, answer in answers.items()
                                           if question.encode() in last), b"\n"))
                output += b"\n"
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    return output.decode(errors="replace")


def _legacy_line(crontab: bytes) -> str:
    return next(line for line in crontab.decode().splitlines(keepends=True) if "--renewAll" in line)


def _our_line(stack) -> str:
    return next(line for line in stack.paths.crontab.read_text().splitlines(keepends=True)
                if line.rstrip().endswith("# ispa-cert renew"))
