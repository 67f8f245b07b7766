"""`ispa-cert renew` against the real stack: Pebble, pebble-challtestsrv, Apache, acme.sh.

Pebble issues 5-year certificates, so nothing is ever due here on its own: renewals
are forced (the policy itself is unit-tested with certificates of chosen dates).
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from ispa_acmewrap import state as state_store
from tests.conftest import ispa_cert_executable
from tests.e2e.support import issue_both, serial_on_disk, serial_served
from tests.factories import ADMIN, PORTAL

pytestmark = pytest.mark.e2e


def test_renew_force_replaces_the_certificates_on_disk_and_on_the_wire(stack, ispa_cert):
    issue_both(ispa_cert)
    before = {name: serial_on_disk(stack.paths, name) for name in (ADMIN, PORTAL)}
    assert {name: serial_served(stack, name) for name in before} == before

    result = ispa_cert("renew", "--force")

    assert result.returncode == 0, result.stdout + result.stderr
    for name in (ADMIN, PORTAL):
        renewed = serial_on_disk(stack.paths, name)
        assert renewed != before[name]
        assert serial_served(stack, name) == renewed
    assert re.search(rf"{re.escape(ADMIN)}\s+renewed\s+\d{{4}}-\d\d-\d\d \d\d:\d\d UTC\s+\d{{4}}-", result.stdout)
    assert "next renewal" in result.stdout and "done: Apache serves the new certificate" in result.stdout
    # one progress line per name when not --cron; acme.sh's own lines only in the log
    assert re.search(rf"^{re.escape(ADMIN)}: renewing… .*renewed, valid until \d{{4}}-\d\d-\d\d$", result.stdout, re.M)
    assert "Cert success" not in result.stdout and "Cert success" in stack.paths.log_file.read_text()
    record = state_store.load_state(stack.paths.state_file)
    assert [issuance.names for issuance in record.issuances if issuance.kind == "renew"] == [(ADMIN,), (PORTAL,)]
    assert record.last_renewal is not None
    assert "acme-challenge" not in stack.paths.apache_main_config.read_text()


def test_cron_mode_is_silent_when_nothing_is_due_and_one_line_otherwise(stack, ispa_cert):
    issue_both(ispa_cert)
    serial = serial_on_disk(stack.paths, ADMIN)

    quiet = ispa_cert("renew", "--cron")

    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert serial_on_disk(stack.paths, ADMIN) == serial
    assert "renew --cron" in stack.paths.log_file.read_text()

    forced = ispa_cert("-v", "renew", "--cron", "--force")

    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert forced.stdout == f"ispa-cert renew: renewed: {ADMIN}, {PORTAL}\n"
    assert forced.stderr == ""
    assert "Cert success" in stack.paths.log_file.read_text()  # acme.sh's output went to the log
    assert serial_served(stack, ADMIN) == serial_on_disk(stack.paths, ADMIN) != serial

    shown = ispa_cert("renew")
    assert shown.returncode == 0 and "Nothing is due." in shown.stdout and "next renewal" in shown.stdout


def test_a_second_renew_while_one_runs_exits_5_naming_the_first(stack, ispa_cert):
    issue_both(ispa_cert)
    first = subprocess.Popen([ispa_cert_executable(), "renew", "--force"], env={**os.environ, **ispa_cert.env},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while f"{first.pid} renew" not in _read(stack.paths.lock_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = ispa_cert("renew", "--force", extra_env={"ISPA_LOCK_WAIT": "1"})
    finally:
        out, err = first.communicate(timeout=300)

    assert first.returncode == 0, out + err
    assert second.returncode == 5, second.stdout + second.stderr
    assert f"{first.pid} renew" in second.stderr
    assert "Traceback" not in second.stderr


def test_a_name_that_failed_validation_5_times_is_not_sent_to_the_ca_again(stack, ispa_cert):
    result = ispa_cert("issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    served = serial_served(stack, ADMIN)
    stack.dns.set_a(ADMIN, ["127.0.0.2"])  # Pebble now validates on an address where nothing listens

    for attempt in range(5):
        failed = ispa_cert("renew", "--force")
        assert failed.returncode == 1, f"attempt {attempt + 1}: " + failed.stdout + failed.stderr
        assert f"renewal failed for {ADMIN}" in failed.stderr
    record = state_store.load_state(stack.paths.state_file)
    assert len(record.failures[ADMIN]) == 5
    attempts = stack.pebble.validation_attempts(ADMIN)
    assert attempts >= 6  # the issue and the 5 failures reached Pebble

    sixth = ispa_cert("renew", "--force")

    assert sixth.returncode == 4, sixth.stdout + sixth.stderr
    until = state_store.blocked_until(record, ADMIN, record.failures[ADMIN][-1])
    assert f"not sent to the CA before {until:%Y-%m-%d %H:%M} UTC" in sixth.stderr
    assert "5 failed validations per account, hostname and hour" in sixth.stderr
    assert stack.pebble.validation_attempts(ADMIN) == attempts
    assert "blocked" in sixth.stdout
    assert serial_served(stack, ADMIN) == served == serial_on_disk(stack.paths, ADMIN)


def _read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
