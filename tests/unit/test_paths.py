from pathlib import Path

import pytest

from ispa_acmewrap.paths import Paths

SPEC_DEFAULTS = {
    "apache_confdir": "/etc/apache2",
    "ispadmin_site": "/etc/apache2/sites-available/ispadmin.conf",
    "temp_site": "/etc/apache2/sites-available/temp_isp.conf",
    "vhost_include": "/usr/local/script/ispadmin/conf/apache_ispadmin_vhost.conf",
    "cert_home": "/data/ispadmin_cert",
    "acme_home": "/data/ispadmin_cert/acme",
    "challenge_dir": "/data/ispadmin_cert/challenge",
    "state_file": "/data/ispadmin_cert/ispa-cert/state.json",
    "backups_dir": "/data/ispadmin_cert/backups",
    "log_file": "/var/log/ispa-cert.log",
    "lock_file": "/run/lock/ispa-cert.lock",
    "crontab": "/etc/crontab",
    "command": "/usr/local/sbin/ispa-cert",
}


@pytest.mark.parametrize("attribute, expected", SPEC_DEFAULTS.items())
def test_defaults_are_the_guides_paths(attribute, expected, monkeypatch):
    monkeypatch.delenv("ISPA_ROOT", raising=False)
    assert getattr(Paths.from_root(), attribute) == Path(expected)


@pytest.mark.parametrize("attribute, expected", SPEC_DEFAULTS.items())
def test_every_path_hangs_off_the_root(attribute, expected, tmp_path):
    assert getattr(Paths.from_root(tmp_path), attribute) == tmp_path / expected.lstrip("/")


def test_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ISPA_ROOT", str(tmp_path))
    assert Paths.from_root().crontab == tmp_path / "etc/crontab"


def test_live_files_and_legacy_dirs(tmp_path):
    paths = Paths.from_root(tmp_path)
    live = paths.live("isp.example.net")
    assert live.fullchain == tmp_path / "data/ispadmin_cert/live/isp.example.net/fullchain.pem"
    assert live.key.name == "key.pem" and live.cert.name == "cert.pem"
    assert paths.legacy_acme_dirs == (tmp_path / "root/.acme.sh", tmp_path / "root/acme.sh")


def test_no_other_module_spells_absolute_system_paths():
    """paths.py is the one place that knows where things are."""
    package = Path(__file__).resolve().parents[2] / "ispa_acmewrap"
    offenders = []
    for source in package.rglob("*.py"):
        if source.name == "paths.py":
            continue
        for number, line in enumerate(source.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for prefix in ('"/etc/', '"/data/', '"/var/', '"/run/', '"/usr/local/', '"/root/'):
                if prefix in code:
                    offenders.append(f"{source.name}:{number}: {line.strip()}")
    assert offenders == []


def test_only_runner_starts_processes():
    package = Path(__file__).resolve().parents[2] / "ispa_acmewrap"
    offenders = [source.name for source in package.rglob("*.py") if source.name != "runner.py"
                 and any(token in source.read_text() for token in ("import subprocess", "import sh\n", "os.system(", "os.popen("))]
    assert offenders == []


def test_the_crontab_names_the_stable_command_when_it_leads_to_this_program(tmp_path, monkeypatch):
    from ispa_acmewrap.cron import program_path

    paths = Paths.from_root(tmp_path)
    program = tmp_path / "usr/local/lib/ispa-cert/venv/bin/ispa-cert"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    monkeypatch.setattr("sys.argv", [str(program)])
    assert program_path(paths) == program  # no stable command yet: this program's own path
    paths.command.parent.mkdir(parents=True)
    paths.command.symlink_to(program)
    assert program_path(paths) == paths.command
    monkeypatch.setattr("sys.argv", [str(tmp_path / "checkout/.venv/bin/ispa-cert")])
    assert program_path(paths) == tmp_path / "checkout/.venv/bin/ispa-cert"  # another installation
