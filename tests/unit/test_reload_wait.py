"""transaction.reload waits for Apache's own word that the new configuration runs: a line in its error
log written after the reload was asked for — not an older one, and also after the log was rotated."""

from __future__ import annotations

import threading
import time

from ispa_acmewrap import apache, transaction

RELOADED = b"[mpm_event:notice] [pid 7] AH00489: Apache/2.4.66 (Debian) configured -- resuming normal operations\n"
EARLIER = b"[core:notice] [pid 7] AH00094: Command line: '/usr/sbin/apache2'\n"


def append(log, line):
    with log.open("ab") as stream:  # as Apache writes: appended, never the file rewritten
        stream.write(line)


def wait(log, start, timeout=2.0):
    return transaction._logged_since(log, start, transaction._RELOADED, timeout)


def test_a_line_written_after_the_reload_ends_the_wait(tmp_path):
    log = tmp_path / "error.log"
    log.write_bytes(RELOADED + EARLIER)  # an earlier reload: not this one
    start = log.stat().st_size
    writer = threading.Timer(0.3, append, (log, RELOADED))
    began = time.monotonic()
    writer.start()
    assert wait(log, start)
    assert time.monotonic() - began >= 0.3


def test_an_earlier_line_does_not_count_and_the_wait_ends_at_its_limit(tmp_path):
    log = tmp_path / "error.log"
    log.write_bytes(RELOADED + EARLIER)
    began = time.monotonic()
    assert not wait(log, log.stat().st_size, timeout=0.3)
    assert time.monotonic() - began >= 0.3


def test_a_rotated_log_is_read_from_its_start(tmp_path):
    log = tmp_path / "error.log"
    log.write_bytes(EARLIER * 50)
    start = log.stat().st_size
    log.write_bytes(RELOADED)  # logrotate's copytruncate, then Apache's line
    assert wait(log, start)


def test_the_error_log_comes_from_the_run_time_configuration():
    dump = 'ServerRoot: "/etc/apache2"\nMain DocumentRoot: "/var/www/html"\nMain ErrorLog: "/var/log/apache2/error.log"\n'
    assert str(apache.parse_error_log(dump)) == "/var/log/apache2/error.log"
    assert apache.parse_error_log('Main ErrorLog: "syslog:local7"\n') is None
    assert apache.parse_error_log("AH00526: Syntax error on line 3\n") is None
