from pathlib import Path

from ispa_acmewrap import acme
from ispa_acmewrap.paths import Paths

ROOT = Path("/srv/sandbox")
PATHS = Paths.from_root(ROOT)
HOMES = ["--home", "/srv/sandbox/data/ispadmin_cert/acme", "--config-home", "/srv/sandbox/data/ispadmin_cert/acme",
         "--cert-home", "/srv/sandbox/data/ispadmin_cert"]


def test_issue_names_the_ca_explicitly_and_validates_through_the_webroot_that_leads_to_the_challenge_alias():
    argv = list(acme.issue_command(PATHS, "isp.example.net", "letsencrypt").argv)
    assert argv[:6] == ["/srv/sandbox/data/ispadmin_cert/acme/acme.sh", "--issue", "--webroot",
                        "/srv/sandbox/data/ispadmin_cert/webroot", "-d", "isp.example.net"]
    assert "--apache" not in argv  # no edit of apache2.conf, no reload while validating
    assert argv[argv.index("--server") + 1] == "letsencrypt"
    assert "--ca-bundle" not in argv and "--force" not in argv
    for option, value in zip(HOMES[::2], HOMES[1::2]):
        assert argv[argv.index(option) + 1] == value


def test_issue_with_a_test_ca_and_force():
    argv = list(acme.issue_command(PATHS, "a.example.net", "https://127.0.0.1:14000/dir", Path("/tmp/ca.pem"), force=True).argv)
    assert argv[argv.index("--server") + 1] == "https://127.0.0.1:14000/dir"
    assert argv[argv.index("--ca-bundle") + 1] == "/tmp/ca.pem"
    assert argv[-1] == "--force"


def test_install_cert_targets_stable_paths_and_reloads_this_apache():
    argv = list(acme.install_cert_command(PATHS, "isp.example.net").argv)
    live = "/srv/sandbox/data/ispadmin_cert/live/isp.example.net"
    assert argv[argv.index("--cert-file") + 1] == f"{live}/cert.pem"
    assert argv[argv.index("--key-file") + 1] == f"{live}/key.pem"
    assert argv[argv.index("--fullchain-file") + 1] == f"{live}/fullchain.pem"
    assert "--ecc" in argv
    reload = argv[argv.index("--reloadcmd") + 1]
    assert "APACHE_CONFDIR=/srv/sandbox/etc/apache2;" in reload and "apache2ctl graceful" in reload
    assert 'kill -0 "$(cat "$APACHE_PID_FILE"' in reload  # only a running Apache is reloaded


def test_install_from_vendor_touches_no_cron_or_profile():
    argv = list(acme.install_command(PATHS, Path("/opt/ispa/vendor/acme.sh/acme.sh"), "admin@example.net").argv)
    assert argv[:2] == ["/opt/ispa/vendor/acme.sh/acme.sh", "--install"]
    assert "--nocron" in argv and "--noprofile" in argv
    assert argv[argv.index("--accountemail") + 1] == "admin@example.net"


def test_every_acme_command_carries_the_environment_that_keeps_acme_sh_inside_the_root():
    for command in (acme.issue_command(PATHS, "isp.example.net", "letsencrypt"),
                    acme.install_cert_command(PATHS, "isp.example.net"), acme.renew_command(PATHS, "isp.example.net"),
                    acme.upgrade_command(PATHS), acme.install_command(PATHS, Path("/opt/acme.sh"))):
        assert dict(command.env) == acme.environment(PATHS)
    env = acme.issue_command(PATHS, "isp.example.net", "letsencrypt").env
    assert env["ACME_DIR"] == "/srv/sandbox/data/ispadmin_cert/challenge"
    assert env["APACHE_HTTPD_CONF"] == "/srv/sandbox/etc/apache2/apache2.conf"
    assert env["APACHE_CONFDIR"] == "/srv/sandbox/etc/apache2"


def test_renew_is_per_name_and_ecc():
    argv = list(acme.renew_command(PATHS, "isp.example.net", force=True).argv)
    assert argv[1:5] == ["--renew", "-d", "isp.example.net", "--ecc"] and argv[-1] == "--force"


def test_version_parsing():
    assert acme.parse_version("https://github.com/acmesh-official/acme.sh\nv3.1.1\n") == "3.1.1"
    assert acme.parse_version("nothing here") is None


def test_failure_explanations():
    limited = acme.explain_failure('[x] Error creating new order :: too many failed authorizations recently')
    assert limited.rate_limited
    log = ('"error":{"type":"urn:ietf:params:acme:error:connection","detail":"Get \\"http://a.example.net/\\": '
           'connection refused","status":400}  "type": "urn:ietf:params:acme:error:malformed", "detail": "Cannot update"')
    failure = acme.explain_failure("[x] a.example.net: Verify error: Get ", log)
    assert failure.validation_failed and not failure.rate_limited
    assert failure.detail == 'Get "http://a.example.net/": connection refused'


def test_a_profile_is_asked_with_cert_profile_and_only_when_given(tmp_path):
    from ispa_acmewrap import acme
    from ispa_acmewrap.paths import Paths

    paths = Paths.from_root(tmp_path)
    argv = list(acme.issue_command(paths, "isp.example.net", "letsencrypt", profile="shortlived").argv)
    assert argv[argv.index("--cert-profile") + 1] == "shortlived"
    assert "--cert-profile" not in acme.issue_command(paths, "isp.example.net", "letsencrypt").argv
