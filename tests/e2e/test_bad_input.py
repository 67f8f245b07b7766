"""Bad input is answered with exit 2 and a clear message, and nothing is changed."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ispa_cert_executable

BAD_NAMES = ["*.example.net", "192.0.2.1", "", "has space.example.net", "nodot", "a;reboot.example.net",
             "x" * 64 + ".example.net", ("abcdefghij." * 26) + "net", "$(id).example.net"]


def snapshot(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_domain_is_refused_and_nothing_changes(sandbox_root, name):
    before = snapshot(sandbox_root)
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), "issue", "-a",
                             "--admin-domain", name, "--yes"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "ISPA_ROOT": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    after = [entry for entry in snapshot(sandbox_root) if not entry.startswith("var")]  # the log
    assert after == [entry for entry in before if not entry.startswith("var")]


def test_question_without_terminal_exits_2_instead_of_hanging(sandbox_root):
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), "issue", "-a"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 2
    assert "--admin-domain" in result.stderr


def test_no_role_chosen_is_a_usage_error(sandbox_root):
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), "issue", "--yes"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "--admin" in result.stderr


def test_bad_setting_is_a_plain_error_for_commands_and_unknown_for_doctor(sandbox_root):
    env = {**os.environ, "ISPA_ROOT": str(sandbox_root), "ISPA_HTTP_PORT": "abc"}
    status = subprocess.run([ispa_cert_executable(), "status"], capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    assert status.returncode == 2
    assert status.stderr == "error: ISPA_HTTP_PORT='abc' is not a port number\n"
    doctor = subprocess.run([ispa_cert_executable(), "doctor"], capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    assert doctor.returncode == 3  # a monitoring plugin that cannot run is UNKNOWN, never CRITICAL
    assert doctor.stdout.startswith("ISPA-CERT UNKNOWN - ") and "ISPA_HTTP_PORT" in doctor.stdout


BAD_OPTIONS = [
    (["issue", "-a", "--admin-domain", "admin.example.net", "--server-ip", "not-an-ip"], "--server-ip 'not-an-ip'"),
    (["issue", "-a", "--admin-domain", "admin.example.net", "--dns-server", "127.0.0.1:99999"], "--dns-server"),
    (["issue", "-a", "--admin-domain", "admin.example.net", "--dns-timeout", "-1"], "--dns-timeout -1"),
    (["issue", "-a", "--admin-domain", "admin.example.net", "--dns-timeout", "nan"], "--dns-timeout nan"),
    (["issue", "-a", "--admin-domain", "admin.example.net", "--server", "garbage"], "--server 'garbage'"),
    (["issue", "-a", "--admin-domain", "admin.example.net", "--server", "http://ca.example/dir"], "https://HOST"),
    (["backups", "restore", "20000101-000000", "--yes"], "no backup with the id 20000101-000000"),
]


@pytest.mark.parametrize(("args", "named"), BAD_OPTIONS)
def test_bad_option_exits_2_at_once_naming_it(sandbox_root, args, named):
    before = snapshot(sandbox_root)
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), *args, "--yes"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20,
                            env={**os.environ, "ISPA_ROOT": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and named in result.stderr
    assert "Traceback" not in result.stderr
    assert [e for e in snapshot(sandbox_root) if not e.startswith(("var", "run"))] == \
        [e for e in before if not e.startswith(("var", "run"))]  # the log and the lock file


def test_doctor_with_a_bad_option_is_unknown_naming_it(sandbox_root):
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), "doctor", "--dns-timeout", "-1"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 3
    assert result.stdout.startswith("ISPA-CERT UNKNOWN - ") and "--dns-timeout -1" in result.stdout


@pytest.mark.parametrize(("content", "said"), [(b'{"version": 1, "roles": {"admin": "a.example\xff\xfe"}}', "not UTF-8"),
                                               (b'{"version": 1, "roles": {"admin": null}}', "role 'admin' is null")])
@pytest.mark.parametrize("command", [["status"], ["renew"]])
def test_a_damaged_state_file_is_a_clear_exit_3(sandbox_root, content, said, command):
    state_file = sandbox_root / "data/ispadmin_cert/ispa-cert/state.json"
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(content)
    result = subprocess.run([ispa_cert_executable(), "--root", str(sandbox_root), *command],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"error: the state file {state_file} is damaged (" in result.stderr and said in result.stderr
    assert f"mv {state_file} {state_file}.broken" in result.stderr
    assert state_file.read_bytes() == content
