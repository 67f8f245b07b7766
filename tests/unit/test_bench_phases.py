"""The wrapper-cost benchmark reads ispa-cert's own log: the step and exit lines it relies on."""

from __future__ import annotations

import logging
import sys

from ispa_acmewrap import runner
from ispa_acmewrap.command import Command
from ispa_acmewrap.console import Console
from tests.bench_wrapper import acme_seconds, phases, report

LOG = """\
2026-11-27 10:00:00,000 11 INFO ispa_acmewrap.cli: ispa-cert 0.1.0: issue -a
2026-11-27 10:00:00,300 11 INFO ispa_acmewrap.runner: apache2ctl exited 0 after 0.200 s
2026-11-27 10:00:00,500 11 INFO ispa_acmewrap.report: step: Checking DNS of admin.ispa.test
2026-11-27 10:00:00,600 11 INFO ispa_acmewrap.report: step: Requesting a certificate for admin.ispa.test from X
2026-11-27 10:00:00,700 11 INFO ispa_acmewrap.runner: running: /a/acme.sh --issue
2026-11-27 10:00:08,700 11 INFO ispa_acmewrap.runner: /a/acme.sh exited 0 after 8.000 s
2026-11-27 10:00:08,800 11 INFO ispa_acmewrap.runner: apache2ctl exited 0 after 0.250 s
2026-11-27 10:00:09,000 11 INFO ispa_acmewrap.report: step: Writing the HTTPS virtual hosts
"""


def test_phases_split_a_run_by_step_and_program():
    found = phases(LOG, ended_at=_epoch("2026-11-27 10:00:10,000"))
    assert [phase.step for phase in found] == [
        "(start-up, names, lock)", "Checking DNS of NAME", "Requesting a certificate for NAME from X",
        "Writing the HTTPS virtual hosts"]
    startup, dns, request, write = found
    assert round(startup.seconds, 3) == 0.5 and round(dns.seconds, 3) == 0.1
    assert startup.programs == {"apache": 0.2}  # Apache read before the first step counts too
    assert round(request.seconds, 3) == 8.4
    assert request.programs == {"acme.sh": 8.0, "apache": 0.25}
    assert round(request.own, 3) == 0.15
    assert round(write.seconds, 3) == 1.0


def test_the_wrappers_own_work_is_its_wall_time_less_acme_sh():
    found = phases(LOG, ended_at=_epoch("2026-11-27 10:00:10,000"))
    assert acme_seconds(found) == 8.0
    side_by_side = phases(LOG.replace("/a/acme.sh exited 0 after 8.000 s", "/a/acme.sh exited 0 after 16.000 s"),
                          ended_at=_epoch("2026-11-27 10:00:10,000"))
    assert round(acme_seconds(side_by_side), 3) == 8.4  # two 8 s runs at once in an 8.4 s step count 8.4 s
    result = {"raw_issue": 20.0, "raw_renew": 10.0, "issue": 21.0, "renew": 10.5, "issue_own": 1.0,
              "renew_own": 0.25, "issue_phases": found, "renew_phases": found, "runs": []}
    text = report(result)
    assert "issue         own work (its wall time less acme.sh's inside it)  1.00 s = 5.0% of raw acme.sh" in text
    assert " 0.25 s = 2.5% of raw acme.sh" in text and "ratio 1.05 (target <= 1.05)" in text
    paired = report({**result, "runs": [(21.0, 20.0, 10.0, 10.0), (19.0, 20.0, 12.0, 10.0), (30.0, 20.0, 9.0, 10.0)]})
    assert "median of the runs' ratios: issue 1.05, renew --force 1.00" in paired


def test_the_log_carries_steps_and_program_times(caplog):
    caplog.set_level(logging.INFO)
    Console(interactive=False, quiet=True).step("Checking DNS of admin.ispa.test")
    runner.run(Command([sys.executable, "-c", "pass"]))
    messages = [record.getMessage() for record in caplog.records]
    assert "step: Checking DNS of admin.ispa.test" in messages
    assert any(message.startswith(f"{sys.executable} exited 0 after ") for message in messages)


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()
