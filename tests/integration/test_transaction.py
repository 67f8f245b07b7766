"""Apache changes are transactions: on a failed configtest, or a run killed half-way,
the previous files come back byte for byte and Apache keeps serving (real Apache)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from ispa_acmewrap import apache as apache_config, runner, transaction
from ispa_acmewrap.errors import CommandFailed, OperationFailed
from ispa_acmewrap.files import atomic_write
from tests.conftest import ispa_cert_executable


def page(apache, name: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{apache.http_port}/", headers={"Host": name})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def files_of(paths) -> dict[str, bytes | None]:
    return {str(path): path.read_bytes() if path.exists() else None for path in transaction.tracked_files(paths)}


def test_failed_configtest_restores_every_file_and_apache_keeps_serving(apache):
    paths = apache.paths
    before = files_of(paths)
    with pytest.raises(OperationFailed) as failure:
        with transaction.apache_change(paths, "test: a broken directive"):
            atomic_write(paths.vhost_include, "ThisIsNotADirective on\n")
            paths.temp_site.write_text("# created inside the failed change\n")
    assert "ThisIsNotADirective" in failure.value.message  # Apache's own message
    assert "restored" in failure.value.message
    assert files_of(paths) == before
    assert not paths.temp_site.exists()
    assert not paths.pending_marker.exists()
    assert page(apache, apache.admin_name) == b"<h1>admin.ispa.test</h1>\n"


def test_the_configtest_checks_the_certificate_files_the_configuration_names(apache):
    """Apache's dump modes (-D DUMP_...) skip mod_ssl's check of the files it names: the configtest
    is not one of them, so a missing certificate stops a change before the reload."""
    paths = apache.paths
    runner.run(apache_config.enable_module_command(paths, "ssl"))
    assert transaction.configtest(paths).pid_file is not None
    missing = paths.live("nowhere.ispa.test").fullchain
    atomic_write(paths.vhost_include, f"<VirtualHost 127.0.0.1:{apache.https_port}>\n"
                                      "  ServerName nowhere.ispa.test\n  SSLEngine on\n"
                                      f"  SSLCertificateFile {missing}\n</VirtualHost>\n")
    with pytest.raises(CommandFailed) as failure:
        transaction.configtest(paths)
    assert f"SSLCertificateFile: file '{missing}' does not exist" in failure.value.output


def test_backup_holds_the_files_with_a_manifest(apache):
    paths = apache.paths
    with transaction.apache_change(paths, "test: harmless change"):
        atomic_write(paths.vhost_include, paths.vhost_include.read_text() + "# changed\n")
    backup = transaction.list_backups(paths)[0]
    assert backup.reason == "test: harmless change"
    assert backup.directory.stat().st_mode & 0o777 == 0o700
    saved = {entry.path: entry for entry in backup.entries}
    assert saved[str(paths.vhost_include)].kind == "file"
    assert saved[str(paths.temp_site)].kind == "absent"
    assert (backup.directory / saved[str(paths.vhost_include)].stored).read_text() == ""  # as it was before


def test_only_the_newest_backups_are_kept(apache):
    for number in range(transaction.KEEP_BACKUPS + 3):
        transaction.create_backup(apache.paths, f"test {number}")
    backups = transaction.list_backups(apache.paths)
    assert len(backups) == transaction.KEEP_BACKUPS
    assert backups[0].reason == f"test {transaction.KEEP_BACKUPS + 2}"


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from ispa_acmewrap.paths import Paths
    from ispa_acmewrap.transaction import apache_change
    from ispa_acmewrap.files import atomic_write
    paths = Paths.from_root(sys.argv[1])
    with apache_change(paths, "change killed half-way"):
        atomic_write(paths.vhost_include, "ThisIsNotADirective on\\n")
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_run_killed_between_backup_and_reload_is_recovered_by_the_next_command(apache):
    paths = apache.paths
    before = files_of(paths)
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(paths.root)], capture_output=True)
    assert killed.returncode == -9
    assert paths.pending_marker.exists()
    assert paths.vhost_include.read_text() == "ThisIsNotADirective on\n"

    listed = subprocess.run([ispa_cert_executable(), "--root", str(paths.root), "backups", "list"],
                            capture_output=True, text=True, env={**os.environ, **apache.tool_env()})
    assert listed.returncode == 0 and "interrupted" in listed.stderr, listed.stderr
    assert paths.pending_marker.exists()  # a read-only command only reports it
    result = subprocess.run([ispa_cert_executable(), "--root", str(paths.root), "renew"],
                            capture_output=True, text=True, env={**os.environ, **apache.tool_env()})
    assert result.returncode == 0, result.stderr
    assert "interrupted" in result.stderr and "restored" in result.stderr
    assert files_of(paths) == before
    assert not paths.pending_marker.exists()
    assert apache.ctl("configtest", check=False).returncode == 0
    assert page(apache, apache.admin_name) == b"<h1>admin.ispa.test</h1>\n"


KILLED_IN_SECOND_CHANGE = textwrap.dedent("""
    import os, signal, sys
    from ispa_acmewrap.paths import Paths
    from ispa_acmewrap.transaction import apache_change
    from ispa_acmewrap.files import atomic_write
    paths = Paths.from_root(sys.argv[1])
    with apache_change(paths, "prepare"):
        atomic_write(paths.temp_site, "# temporary\\n")
    with apache_change(paths, "install killed half-way"):
        atomic_write(paths.vhost_include, "# half-written, yet Apache accepts it\\n")
        paths.temp_site.unlink()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_run_killed_in_its_second_change_is_recovered_from_that_step_backup(apache):
    """issue's install runs after its prepare step: the marker names the install's step backup, which
    must be found (not taken for a lost backup whose half-written configuration is kept)."""
    paths = apache.paths
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_SECOND_CHANGE, str(paths.root)], capture_output=True)
    assert killed.returncode == -9, killed.stderr
    step = transaction.list_backups(paths, steps=True)[0]
    assert step.step_of and json.loads(paths.pending_marker.read_text())["backup"] == step.id
    after_prepare = {entry.path: (step.directory / entry.stored).read_bytes() if entry.stored else None
                     for entry in step.entries}
    assert after_prepare[str(paths.temp_site)] == b"# temporary\n"

    env = {**os.environ, **apache.tool_env()}
    listed = subprocess.run([ispa_cert_executable(), "--root", str(paths.root), "backups", "list"],
                            capture_output=True, text=True, env=env)
    assert f"restores backup {step.id} first" in listed.stderr, listed.stderr
    result = subprocess.run([ispa_cert_executable(), "--root", str(paths.root), "renew"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert f"from backup {step.id} was restored" in result.stderr, result.stderr
    assert files_of(paths) == after_prepare
    assert not paths.pending_marker.exists() and not step.directory.exists()


def test_step_backups_left_behind_go_with_their_command_backup(sandbox_paths):
    """A step backup a failed rollback or a killed run left behind is pruned once its command's backup is."""
    paths = sandbox_paths
    command = transaction.create_backup(paths, "test: command")
    step = transaction.create_backup(paths, "test: step", step_of=command.id)
    for number in range(transaction.KEEP_BACKUPS - 1):
        transaction.create_backup(paths, f"test {number}")
    assert step.directory.exists()  # its command backup is still kept
    transaction.create_backup(paths, "test: one more")
    assert not command.directory.exists() and not step.directory.exists()


def test_a_rolled_back_restore_puts_the_administrators_own_files_back_too(apache):
    """An install backup holds the administrator's SSL vhost besides our files: restoring it backs that up
    first, so a restore Apache rejects leaves the vhost as it was, and the pre-restore backup holds it."""
    paths = apache.paths
    own = paths.temp_site.parent / "admin-ssl.conf"  # never enabled: only its bytes matter here
    atomic_write(own, "# the vhost as the backup holds it\n")
    atomic_write(paths.vhost_include, "ThisIsNotADirective on\n")
    install = transaction.create_backup(paths, "test: install", [*transaction.tracked_files(paths), own])
    atomic_write(paths.vhost_include, "")
    atomic_write(own, "# the vhost as the administrator changed it since\n")
    result = subprocess.run([ispa_cert_executable(), "--root", str(paths.root), "backups", "restore", install.id,
                             "--yes"], capture_output=True, text=True, env={**os.environ, **apache.tool_env()})
    assert result.returncode == 1 and "ThisIsNotADirective" in result.stderr, result.stderr
    assert own.read_text() == "# the vhost as the administrator changed it since\n"
    assert paths.vhost_include.read_text() == ""
    before_restore = transaction.list_backups(paths)[0]
    assert before_restore.reason.endswith(f"restore backup {install.id})")
    assert str(own) in {entry.path for entry in before_restore.entries}


def test_the_old_cron_jobs_disabled_at_the_end_of_issue_are_a_step_of_its_backup(apache):
    """`backups restore` without an id must bring back the Apache state before issue, not only the cron
    file issue's takeover changed last; that cron backup is restored by its id, and the question says so."""
    from ispa_acmewrap.actions import backups, takeover
    from ispa_acmewrap.console import Console
    from ispa_acmewrap.cron import other_renewal_jobs
    from ispa_acmewrap.settings import Settings

    paths = apache.paths
    settings = Settings(paths=paths)
    job = "0 3 * * * root /root/.acme.sh/acme.sh --cron --home /root/.acme.sh > /dev/null\n"
    atomic_write(paths.cron_d_dir / "acme", job)
    transaction.begin_command(paths, "issue")
    with transaction.apache_change(paths, "test: install"):
        atomic_write(paths.vhost_include, "# installed\n")
    others = other_renewal_jobs(paths)
    done = takeover._disable_others(settings, Console(interactive=False, assume_yes=True),
                                    takeover.Takeover(None), others)
    assert done.backup and (paths.cron_d_dir / "acme").read_text() != job

    newest = transaction.find_backup(paths, None)
    assert newest.reason == "before ispa-cert issue (test: install)"
    assert backups.restore_question(settings, newest) == (
        f"Restore the Apache files of backup {newest.id} (before ispa-cert issue (test: install))?")
    cron_backup = transaction.find_backup(paths, done.backup)
    assert backups.restore_question(settings, cron_backup) == (
        f"Restore {paths.cron_d_dir / 'acme'} from backup {cron_backup.id} (disable other acme.sh renewal jobs)?")
    backups.restore(settings, Console(interactive=False, assume_yes=True), done.backup)
    assert (paths.cron_d_dir / "acme").read_text() == job


def failing_undo(paths):
    """issue's preparation (temp_isp.conf made), whose undo will fail half-way: a stored file is gone."""
    before = files_of(paths)
    with transaction.apache_change(paths, "test: prepare") as prepared:
        atomic_write(paths.temp_site, "# temporary\n")
    stored = prepared.directory / next(entry.stored for entry in prepared.entries
                                       if entry.path == str(paths.vhost_include))
    kept = stored.read_bytes()
    stored.unlink()
    return before, prepared, lambda: stored.write_bytes(kept)


def test_a_failed_undo_of_issues_preparation_keeps_the_runs_own_error_and_names_the_backup(apache):
    from ispa_acmewrap.actions import issue
    from ispa_acmewrap.console import Console
    from ispa_acmewrap.settings import Settings

    paths = apache.paths
    before, prepared, repair = failing_undo(paths)
    failure = OperationFailed("the CA refused the order", hint="run it again later")
    error = issue.undo_after_failure(Settings(paths=paths), Console(interactive=False), prepared, failure)
    assert type(error) is OperationFailed and error.message.startswith("the CA refused the order\n")
    assert "undoing the preparation for the challenges failed" in error.message
    assert error.hint.startswith("run it again later\n") and f"backups restore {prepared.id}" in error.hint
    assert json.loads(paths.pending_marker.read_text())["backup"] == prepared.id  # the next command recovers
    repair()
    assert "restored" in transaction.recover(paths)
    assert files_of(paths) == before and not paths.pending_marker.exists()


def test_an_interrupted_issue_whose_undo_fails_stays_interrupted_and_says_which_backup(apache, capsys):
    from ispa_acmewrap.actions import issue
    from ispa_acmewrap.console import Console
    from ispa_acmewrap.settings import Settings

    paths = apache.paths
    _before, prepared, _repair = failing_undo(paths)
    interrupted = KeyboardInterrupt()
    assert issue.undo_after_failure(Settings(paths=paths), Console(interactive=False), prepared,
                                    interrupted) is interrupted
    warned = " ".join(capsys.readouterr().err.split())
    assert "undoing the preparation for the challenges failed" in warned
    assert f"ispa-cert backups restore {prepared.id}" in warned


def test_a_second_ctrl_c_does_not_cut_the_undo_of_issues_preparation_short(apache, monkeypatch):
    from ispa_acmewrap.actions import issue
    from ispa_acmewrap.console import Console
    from ispa_acmewrap.settings import Settings

    paths = apache.paths
    before = files_of(paths)
    with transaction.apache_change(paths, "test: prepare") as prepared:
        atomic_write(paths.temp_site, "# temporary\n")
    restore = transaction.restore_files

    def interrupted_restore(backup):
        os.kill(os.getpid(), signal.SIGINT)
        restore(backup)

    monkeypatch.setattr(transaction, "restore_files", interrupted_restore)
    error = issue.undo_after_failure(Settings(paths=paths), Console(interactive=False), prepared,
                                     OperationFailed("the CA refused the order"))
    assert "was undone too" in error.message
    assert files_of(paths) == before and not paths.pending_marker.exists()


def test_main_config_is_put_back_after_acme_sh_changes_it(apache):
    paths = apache.paths
    original = paths.apache_main_config.read_bytes()
    with transaction.acme_apache_run(paths, "test"):
        with paths.apache_main_config.open("a") as main:
            main.write("\nAlias /.well-known/acme-challenge  /home/.acme\n")
        (paths.challenge_dir).mkdir(parents=True, exist_ok=True)
        (paths.challenge_dir / "token").write_text("x")
    assert paths.apache_main_config.read_bytes() == original
    assert list(paths.challenge_dir.iterdir()) == []
    assert not paths.pending_marker.exists()


def test_the_backup_a_command_leaves_is_the_state_before_it(apache):
    """issue makes temp_isp.conf in one change and removes it in the next: restoring the command's
    backup must not bring temp_isp.conf back (the later step's backup is gone once it succeeded)."""
    paths = apache.paths
    before = files_of(paths)
    with transaction.apache_change(paths, "test: prepare"):
        atomic_write(paths.temp_site, "# temporary\n")
    with transaction.apache_change(paths, "test: install"):
        paths.temp_site.unlink()
        atomic_write(paths.vhost_include, "# installed\n")
    listed = transaction.list_backups(paths)
    assert [backup.reason for backup in listed] == ["test: prepare"]
    assert transaction.list_backups(paths, steps=True) == listed
    transaction.restore_files(listed[0])
    assert files_of(paths) == before and not paths.temp_site.exists()


def test_the_command_backup_is_named_after_the_command(apache):
    """`backups list` must say which command's prior state a backup holds, not only its first step."""
    paths = apache.paths
    transaction.begin_command(paths, "issue")
    with transaction.apache_change(paths, "test: prepare"):
        atomic_write(paths.temp_site, "# temporary\n")
    with transaction.apache_change(paths, "test: install"):
        paths.temp_site.unlink()
    assert [backup.reason for backup in transaction.list_backups(paths)] == ["before ispa-cert issue (test: prepare)"]


def test_reload_returns_once_apache_serves_the_new_configuration(apache):
    """The first request after reload() already meets the new files (graceful returns before that)."""
    paths = apache.paths
    original = paths.vhost_include.read_bytes()
    pages = paths.root / "generations"
    pages.mkdir()
    for generation in range(8):
        (pages / f"{generation}.txt").write_text(f"generation {generation}\n")
        (pages / f"{generation}.txt").chmod(0o644)
        atomic_write(paths.vhost_include, original + f"Alias /generation {pages}/{generation}.txt\n"
                     f"<Directory {pages}>\n  Require all granted\n</Directory>\n".encode())
        transaction.reload(paths)
        request = urllib.request.Request(f"http://127.0.0.1:{apache.http_port}/generation",
                                         headers={"Host": apache.admin_name})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == f"generation {generation}\n".encode()


def test_reload_without_a_readable_error_log_pauses_instead(apache, monkeypatch):
    paths = apache.paths
    monkeypatch.setattr(transaction.apache, "parse_run_config", lambda output: apache_config.RunConfig(None, None))
    monkeypatch.setattr(transaction, "RELOAD_SETTLE_SECONDS", 0.3)
    slept = []
    monkeypatch.setattr(transaction.time, "sleep", slept.append)
    transaction.reload(paths)
    assert 0.3 in slept
