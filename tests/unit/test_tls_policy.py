"""The TLS policy of the HTTPS vhosts: the shipped profile snippets, their rendering, HTTP/2,
HSTS, the redirect, and doctor's judges of what Apache has loaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ispa_acmewrap import apache, tls
from ispa_acmewrap.apache import SslSite
from ispa_acmewrap.health import Severity
from ispa_acmewrap.paths import Paths

PATHS = Paths.from_root("/")
SITE = SslSite("a.example.net", (" ServerName a.example.net", " Protocols h2 h2c http/1.1", ' DocumentRoot "/www/"',
                                 ' Header always set Strict-Transport-Security "max-age=300"', " SSLUseStapling on"),
               Path("/c/fullchain.pem"), Path("/c/key.pem"))
AEAD_TLS12 = re.compile(r"^(ECDHE|DHE)-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")


def directives(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if words and not words[0].startswith(("#", "<")):
            found[words[0]] = words[1] if len(words) > 1 else ""
    return found


def vhost(text: str) -> str:
    return text[text.index("<VirtualHost"):text.index("</VirtualHost>")]


def test_intermediate_snippet_is_mozillas_intermediate_profile():
    found = directives(tls.snippet("intermediate"))
    assert found["SSLProtocol"].split() == ["-all", "+TLSv1.2", "+TLSv1.3"]
    suites = found["SSLCipherSuite"].split(":")
    assert len(suites) == 9 and all(AEAD_TLS12.match(suite) for suite in suites)
    assert found["SSLOpenSSLConfCmd"] == "Curves X25519:prime256v1:secp384r1"
    assert found["SSLHonorCipherOrder"] == "off" and found["SSLSessionTickets"] == "off"
    assert "SSLUseStapling" not in found


def test_modern_snippet_is_tls13_only():
    found = directives(tls.snippet("modern"))
    assert found["SSLProtocol"].split() == ["-all", "+TLSv1.3"]
    assert "SSLCipherSuite" not in found  # TLS 1.3's three AEAD suites are OpenSSL's default
    assert found["SSLOpenSSLConfCmd"] == "Curves X25519:prime256v1:secp384r1"
    assert found["SSLSessionTickets"] == "off"


@pytest.mark.parametrize("profile", tls.PROFILES)
def test_each_snippet_carries_its_name_and_a_dated_version(profile):
    first = tls.snippet(profile).splitlines()[0]
    assert tls.profile_in_use(first) == tls.ProfileInUse(profile, tls.snippet_version(profile))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tls.snippet_version(profile))


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError):
        tls.TlsPolicy("old")
    with pytest.raises(ValueError):
        tls.snippet("../tls-modern")


def test_https_vhost_gets_the_profile_h2_and_no_h2c_hsts_or_stapling_from_the_copy():
    text = apache.render_include(PATHS, [SITE], 443)
    body = vhost(text)
    assert tls.profile_in_use(text).profile == "intermediate"
    assert directives(body)["SSLCipherSuite"] == directives(tls.snippet("intermediate"))["SSLCipherSuite"]
    assert body.index("SSLCertificateKeyFile") < body.index("SSLProtocol")
    assert "    <IfModule http2_module>\n        Protocols h2 http/1.1\n    </IfModule>" in body
    assert "h2c" not in text and "Stapling" not in text and "Strict-Transport-Security" not in text
    assert 'DocumentRoot "/www/"' in body


def test_curves_are_also_set_server_wide_once():
    text = apache.render_include(PATHS, [SITE, SslSite("b.example.net", (), Path("/b/f.pem"), Path("/b/k.pem"))], 443)
    curves = "SSLOpenSSLConfCmd       Curves X25519:prime256v1:secp384r1"
    server = text[text.index("<IfModule ssl_module>"):text.index("<VirtualHost")]
    assert f"\n{curves}\n" in server
    assert text.count(curves) == 3  # server-wide, and in each of the two vhosts
    assert "SSLOpenSSLConfCmd" not in apache.render_include(PATHS, [], 443)


def test_modern_profile_in_the_vhost():
    text = apache.render_include(PATHS, [SITE], 443, policy=tls.TlsPolicy("modern"))
    assert tls.profile_in_use(text).profile == "modern"
    assert directives(vhost(text))["SSLProtocol"] == "-all +TLSv1.3" and "SSLCipherSuite" not in text


def test_hsts_only_together_with_the_redirect():
    with_hsts = tls.TlsPolicy(hsts=True)
    assert tls.HSTS_LINE not in apache.render_include(PATHS, [SITE], 443, policy=with_hsts)
    text = apache.render_include(PATHS, [SITE], 443, redirect=True, policy=with_hsts)
    assert f"    {tls.HSTS_LINE}\n" in vhost(text) and tls.hsts_in(text)
    assert tls.HSTS_LINE == 'Header always set Strict-Transport-Security "max-age=63072000"'
    assert not tls.hsts_in(apache.render_include(PATHS, [SITE], 443, redirect=True))


def test_redirect_is_308_from_the_raw_request_path_and_spares_challenges():
    text = apache.render_include(PATHS, [SITE], 443, redirect=True)
    rules = text[text.index(apache.REDIRECT_MARK):]
    assert "[R=308,NE,L]" in rules and "%{THE_REQUEST}" in rules
    assert "Options +SymLinksIfOwnerMatch" in rules  # per-directory rewrites need it (a vhost with Options None)
    assert r"%{REQUEST_URI} !~ m#^/\.well\-known/acme\-challenge/#" in rules
    assert "Redirect permanent" not in text
    raw_path = re.compile(apache._RAW_PATH)
    for request_line, path in (("POST /a%3Fb%23c?x=%3F HTTP/1.1", "/a%3Fb%23c"), ("GET / HTTP/1.1", "/"),
                               ("GET http://a.example.net/p%20q?z HTTP/1.1", "/p%20q")):
        assert raw_path.match(request_line).group(1) == path


def test_loaded_modules_and_http2_support():
    output = ("Loaded Modules:\n core_module (static)\n so_module (static)\n mpm_event_module (shared)\n"
              " http2_module (shared)\n ssl_module (shared)\n")
    modules = tls.parse_loaded_modules(output)
    assert {"mpm_event_module", "http2_module", "ssl_module"} <= modules
    assert tls.http2_support(modules) == tls.Http2Support(True, "event") and tls.http2_support(modules).can_serve
    prefork = tls.http2_support({"mpm_prefork_module", "http2_module"})
    assert not prefork.can_serve and tls.http2_finding(prefork).severity is Severity.WARN
    assert "prefork" in tls.http2_finding(prefork).message
    off = tls.http2_support({"mpm_event_module"})
    assert not off.can_serve and tls.http2_finding(off).severity is Severity.OK
    assert "not loaded" in tls.http2_finding(off).message


def test_stapling_lines_and_their_finding():
    text = "SSLEngine on\n  SSLUseStapling On\n#SSLUseStapling on\nSSLUseStapling off\nSSLUseStapling \"on\" # x\n"
    assert tls.stapling_lines(text) == [2, 5]
    finding = tls.stapling_finding([(Path("/etc/apache2/sites-enabled/x.conf"), 2)])
    assert finding.severity is Severity.WARN and "x.conf:2" in finding.message and "2025" in finding.message
    assert "SSLUseStapling on" in finding.fix
    assert tls.stapling_finding([]).severity is Severity.OK


def test_included_files_from_dump_includes():
    output = ("Included configuration files:\n  (*) /etc/apache2/apache2.conf\n"
              "    (146) /etc/apache2/mods-enabled/access_compat.load\n"
              "      (2) /etc/apache2/sites-enabled/my site.conf\n")
    assert tls.parse_included_files(output) == [Path("/etc/apache2/apache2.conf"),
                                                Path("/etc/apache2/mods-enabled/access_compat.load"),
                                                Path("/etc/apache2/sites-enabled/my site.conf")]


def test_tls_choice_follows_the_options_then_the_record():
    from datetime import datetime, timezone

    from ispa_acmewrap import state
    from ispa_acmewrap.actions.issue import IssueOptions, check_options, choose_tls
    from ispa_acmewrap.errors import BadInput

    fresh = state.State()
    assert choose_tls(IssueOptions(roles=("admin",)), fresh, redirecting=False) == tls.TlsPolicy("intermediate")
    modern = choose_tls(IssueOptions(roles=("admin",), tls_profile="modern", redirect=True, hsts=True), fresh, False)
    assert modern == tls.TlsPolicy("modern", hsts=True)
    remembered = state.with_tls(fresh, "modern", True)
    assert choose_tls(IssueOptions(roles=("admin",)), remembered, redirecting=True) == modern
    # turning the redirect off turns HSTS off with it
    assert choose_tls(IssueOptions(roles=("admin",), redirect=False), remembered, True) == tls.TlsPolicy("modern")
    with pytest.raises(BadInput, match="--hsts needs"):
        choose_tls(IssueOptions(roles=("admin",), hsts=True), fresh, redirecting=False)
    with pytest.raises(BadInput, match="--hsts needs --redirect"):
        check_options(IssueOptions(roles=("admin",), hsts=True, redirect=False))
    with pytest.raises(BadInput, match="unknown TLS profile"):
        check_options(IssueOptions(roles=("admin",), tls_profile="old"))


def test_tls_choice_is_kept_in_the_state_file(tmp_path):
    from ispa_acmewrap import state

    file = tmp_path / "state.json"
    state.save_state(file, state.State())
    assert state.load_state(file).tls_profile is None and "tls" not in file.read_text()
    state.save_state(file, state.with_tls(state.State(), "modern", True))
    loaded = state.load_state(file)
    assert (loaded.tls_profile, loaded.hsts) == ("modern", True)


def test_status_shows_the_profile_in_use_and_http2():
    from datetime import datetime, timezone

    from ispa_acmewrap import report
    from ispa_acmewrap.actions.status import StatusResult, TlsStatus

    in_use = TlsStatus(tls.ProfileInUse("intermediate", "2026-11-27"), "modern", redirect=True, hsts=True,
                       http2=tls.Http2Support(True, "prefork"))
    result = StatusResult((), datetime(2026, 11, 27, tzinfo=timezone.utc), 443, in_use)
    text = report.status_table(result)
    assert "Mozilla's intermediate profile (snippet version 2026-11-27); the next install writes modern" in text
    assert "redirects to HTTPS (308); HSTS on" in text and "prefork MPM cannot serve HTTP/2" in text
    document = report.status_document(result)["tls"]
    assert document == {"profile": "intermediate", "profile_version": "2026-11-27", "profile_chosen": "modern",
                        "redirect": True, "hsts": True, "ocsp_stapling": False,
                        "http2": {"module_loaded": True, "mpm": "prefork", "can_serve": False}}
    nothing = StatusResult((), result.checked_at, 443, TlsStatus(None, "intermediate", False, False, None))
    assert report.status_document(nothing)["tls"]["profile"] is None
    assert "no TLS profile written yet" in report.status_table(nothing)


def test_status_says_the_administrators_own_https_vhosts_keep_their_tls_settings(tmp_path):
    """After a certificate.pl takeover the include's *:443 vhosts were updated in place: no profile line,
    and status must not promise a profile the next install would write there."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from ispa_acmewrap import report
    from ispa_acmewrap.actions.status import StatusResult, tls_status
    from ispa_acmewrap.state import State

    include = tmp_path / "apache_ispadmin_vhost.conf"
    include.write_text("<VirtualHost *:443>\n  ServerName admin.example.net\n  SSLEngine on\n"
                       "  sslCertificateFile /data/ispadmin_cert/live/admin.example.net/fullchain.pem\n"
                       "  SSLProtocol -all +TLSv1.2 +TLSv1.3\n</VirtualHost>\n")
    settings = SimpleNamespace(paths=SimpleNamespace(vhost_include=include))
    own = tls_status(settings, State(), http2=None)
    assert own.own_vhosts and own.profile is None
    text = report.status_table(StatusResult((), datetime(2026, 11, 27, tzinfo=timezone.utc), 443, own))
    assert "the administrator's own HTTPS virtual hosts keep their TLS settings" in text
    assert "no TLS profile written yet" not in text
    include.write_text("<VirtualHost *:80>\n  ServerName admin.example.net\n</VirtualHost>\n")
    assert not tls_status(settings, State(), http2=None).own_vhosts
