"""What a server certificate.pl managed leaves behind, read and decided on without processes."""

from __future__ import annotations

from pathlib import Path

from ispa_acmewrap import acme, apache, cron, state as state_store
from ispa_acmewrap.actions import repair
from ispa_acmewrap.actions.served import NameCertificate, renewed_by_ispa_cert
from ispa_acmewrap.apache import VirtualHost
from ispa_acmewrap.health import Severity, challenge_dir_finding, stale_alias_finding
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.settings import Settings


def hold(paths: Paths, name: str, ecc: bool, extra: str = "") -> Path:
    directory = paths.cert_home / (f"{name}_ecc" if ecc else name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.conf").write_text(f"Le_Domain='{name}'\n{extra}")
    (directory / f"{name}.cer").write_text("certificate\n")
    return directory


def test_both_acme_sh_layouts_are_held_and_named_right(tmp_path):
    paths = Paths.from_root(tmp_path)
    hold(paths, "old.example.net", ecc=False)
    hold(paths, "new.example.net", ecc=True)
    (paths.cert_home / "acme").mkdir()  # acme.sh's home: not a certificate
    (paths.cert_home / "live" / "x").mkdir(parents=True)
    held = {entry.name: entry for entry in acme.held_certificates(paths)}
    assert {name: entry.ecc for name, entry in held.items()} == {"old.example.net": False, "new.example.net": True}
    assert acme.issued_names(paths) == ["new.example.net", "old.example.net"]
    assert acme.renew_command(paths, "old.example.net", ecc=held["old.example.net"].ecc).argv[:4] == \
        (str(paths.acme_script), "--renew", "-d", "old.example.net")
    assert "--ecc" not in acme.renew_command(paths, "old.example.net", ecc=False).argv
    assert "--ecc" not in acme.install_cert_command(paths, "old.example.net", ecc=False).argv
    assert "--ecc" in acme.install_cert_command(paths, "new.example.net").argv


def test_rsa_stays_rsa_unless_asked(tmp_path):
    paths = Paths.from_root(tmp_path)
    hold(paths, "old.example.net", ecc=False)
    assert acme.key_type_to_issue(paths, "old.example.net", None) == "rsa"
    assert acme.key_type_to_issue(paths, "old.example.net", "ec") == "ec"
    assert acme.key_type_to_issue(paths, "fresh.example.net", None) is None  # acme.sh's default: ECDSA
    argv = acme.issue_command(paths, "old.example.net", "letsencrypt", key_type="rsa").argv
    assert argv[argv.index("--keylength") + 1] == "2048"
    assert "--keylength" not in acme.issue_command(paths, "x.example.net", "letsencrypt").argv


def test_a_file_apache_uses_belongs_to_its_acme_sh_certificate(tmp_path):
    paths = Paths.from_root(tmp_path)
    old = hold(paths, "old.example.net", ecc=False)
    live = paths.live("new.example.net").cert
    hold(paths, "new.example.net", ecc=True, extra=f"Le_RealCertPath='{live}'\n")
    assert acme.held_for_file(paths, old / "old.example.net.cer").name == "old.example.net"
    assert acme.held_for_file(paths, live).name == "new.example.net"
    assert acme.held_for_file(paths, tmp_path / "etc" / "ssl" / "bought.pem") is None


def test_the_ssl_certificate_file_of_the_vhost_apache_uses(tmp_path):
    conf = tmp_path / "include.conf"
    conf.write_text('<VirtualHost *:443>\n\tServerName a.example.net\n\tSSLEngine on\n'
                    '\tSSLCertificateFile "/data/ispadmin_cert/a.example.net/a.example.net.cer"\n'
                    '\tHeader always set X-A "1"\n</VirtualHost>\n'
                    '<VirtualHost *:443>\n ServerName b.example.net\n sslcertificatefile ssl/b.pem\n</VirtualHost>\n')
    hosts = [VirtualHost(443, "a.example.net", (), conf, 1), VirtualHost(443, "b.example.net", (), conf, 7),
             VirtualHost(80, "c.example.net", (), conf, 1)]
    assert apache.certificate_file_served(hosts, "a.example.net", 443, tmp_path) == \
        Path("/data/ispadmin_cert/a.example.net/a.example.net.cer")
    assert apache.certificate_file_served(hosts, "b.example.net", 443, tmp_path) == tmp_path / "ssl" / "b.pem"
    assert apache.certificate_file_served(hosts, "c.example.net", 443, tmp_path) is None


ACME_BLOCK = ("\nAlias /.well-known/acme-challenge  /home/.acme\n\n<Directory /home/.acme >\n"
              "Require all granted\n</Directory>\n  \n")


def test_stale_acme_alias_blocks_are_found_and_removed_byte_for_byte():
    main = "ServerName x\n# Alias /.well-known/acme-challenge  kept comment\nIncludeOptional sites-enabled/*.conf\n"
    left = main + ACME_BLOCK + ACME_BLOCK.replace("/home/.acme", "/data/ispadmin_cert/challenge")
    assert apache.stale_acme_aliases(left) == ["/home/.acme", "/data/ispadmin_cert/challenge"]
    assert apache.without_stale_acme_aliases(left) == main
    assert apache.stale_acme_aliases(main) == []
    finding = stale_alias_finding(Path("/etc/apache2/apache2.conf"), ["/home/.acme"])
    assert finding.severity is Severity.WARN and "renew" in finding.fix


def test_acme_dir_is_set_in_account_conf_keeping_every_other_line():
    conf = "#LOG_LEVEL=1\nCERT_HOME='/data/ispadmin_cert'\nACME_DIR='/home/.acme'\nCA_BUNDLE='x'"
    assert acme.with_setting(conf, "ACME_DIR", "/data/ispadmin_cert/challenge") == \
        "#LOG_LEVEL=1\nCERT_HOME='/data/ispadmin_cert'\nACME_DIR='/data/ispadmin_cert/challenge'\nCA_BUNDLE='x'\n"
    assert acme.with_setting("A='1'\n", "ACME_DIR", "/c") == "A='1'\nACME_DIR='/c'\n"


def test_what_ispa_cert_renews_and_what_it_would_leave_to_expire(tmp_path):
    settings = Settings(paths=Paths.from_root(tmp_path))
    paths = settings.paths
    served = hold(paths, "served.example.net", ecc=False)
    hold(paths, "mail.example.net", ecc=True)
    record = state_store.with_role(state_store.State(), "admin", "isp.example.net")

    def entry(name: str, apache_file: Path | None) -> NameCertificate:
        return NameCertificate(name, acme.held_certificate(paths, name), apache_file, paths.live(name).cert)

    assert renewed_by_ispa_cert(settings, record, entry("served.example.net", served / "served.example.net.cer"))
    assert not renewed_by_ispa_cert(settings, record, entry("mail.example.net", None))
    assert not renewed_by_ispa_cert(settings, record, entry("mail.example.net", tmp_path / "etc" / "other.pem"))
    adopted = state_store.with_adopted(record, ["mail.example.net"])
    assert renewed_by_ispa_cert(settings, adopted, entry("mail.example.net", None))
    state_store.save_state(paths.state_file, adopted)
    assert state_store.load_state(paths.state_file).adopted == ("mail.example.net",)


def test_other_acme_sh_jobs_are_found_and_disabled_byte_for_byte(tmp_path):
    cron_d = tmp_path / "cron.d"
    cron_d.mkdir()
    job = cron_d / "ispadmin"
    job.write_bytes(b"# renew\r\nMAILTO=root\n00 05 * * 7 root /data/ispadmin_cert/acme/acme.sh --apache --renewAll "
                    b"--home /data/ispadmin_cert/acme #letsencrypt renew\n# 1 2 * * * root acme.sh --cron\n")
    (cron_d / "ignored.dpkg-old").write_text("1 2 * * * root acme.sh --cron\n")
    spool = tmp_path / "root"
    spool.write_text('34 0 * * * "/root/.acme.sh"/acme.sh --cron --home "/root/.acme.sh" > /dev/null\n'
                     "5 4 * * * /usr/local/bin/backup\n")
    spool.chmod(0o600)
    files = cron.other_job_files(cron_d, spool)
    assert files == [job, spool]
    jobs = cron.other_jobs(files)
    assert [(found.file, found.line_number) for found in jobs] == [(job, 3), (spool, 1)]
    cron.disable_jobs(jobs)
    assert job.read_bytes() == (b"# renew\r\nMAILTO=root\n" + cron.DISABLED_PREFIX.encode() + b"00 05 * * 7 root "
                                b"/data/ispadmin_cert/acme/acme.sh --apache --renewAll --home /data/ispadmin_cert/acme "
                                b"#letsencrypt renew\n# 1 2 * * * root acme.sh --cron\n")
    assert spool.read_text().splitlines()[1] == "5 4 * * * /usr/local/bin/backup"
    assert spool.stat().st_mode & 0o777 == 0o600
    assert cron.other_jobs(files) == []


def test_repair_drops_only_lines_sourcing_removed_acme_sh_files(tmp_path):
    removed = tmp_path / "root" / ".acme.sh"
    kept_home = tmp_path / "acme"
    kept_home.mkdir()
    (kept_home / "acme.sh.env").write_text("export LE_WORKING_DIR=x\n")
    text = (f"alias ll='ls -l'\n. \"{removed}/acme.sh.env\"\n. \"{kept_home}/acme.sh.env\"\n"
            f"source \"{removed}/acme.sh.csh\"\r\n# . \"{removed}/acme.sh.env\"\n")
    doomed = repair.dangling_source_lines(text, [removed, kept_home])
    assert doomed == [f". \"{removed}/acme.sh.env\"\n", f"source \"{removed}/acme.sh.csh\"\r\n"]
    assert repair.without_lines(text, doomed) == (f"alias ll='ls -l'\n. \"{kept_home}/acme.sh.env\"\n"
                                                 f"# . \"{removed}/acme.sh.env\"\n")


def test_a_missing_challenge_directory_is_critical_only_after_ispa_cert_ran():
    assert challenge_dir_finding(Path("/data/ispadmin_cert/challenge"), taken_over=False).severity is Severity.WARN
    assert challenge_dir_finding(Path("/data/ispadmin_cert/challenge"), taken_over=True).severity is Severity.CRIT
