"""doctor runs every few minutes from a monitoring system: one summary line per run in the log,
the commands it ran and their output only with -v."""

from __future__ import annotations

from ispa_acmewrap import __version__
from tests.conftest import ToolRunner


def test_doctor_logs_one_summary_line_per_run_and_command_output_only_with_verbose(sandbox_root, sandbox_paths):
    run = ToolRunner({"ISPA_ROOT": str(sandbox_root)})

    plain = run("doctor", "--offline")
    quiet_log = sandbox_paths.log_file.read_text().splitlines()
    verbose = run("-v", "doctor", "--offline")
    verbose_log = sandbox_paths.log_file.read_text().splitlines()[len(quiet_log):]

    first_line = plain.stdout.splitlines()[0]
    assert [line.split(": ", 1)[1] for line in quiet_log] == [f"ispa-cert {__version__}: doctor --offline", f"doctor: {first_line}"]
    assert any("running: ss " in line for line in verbose_log)
    assert any("acme.sh --version" in line for line in verbose_log)
    assert verbose_log[-1].endswith(f"doctor: {verbose.stdout.splitlines()[0]}")
