from pathlib import Path

from ispa_acmewrap import apache
from ispa_acmewrap.apache import SslSite
from ispa_acmewrap.paths import Paths

DUMP = """VirtualHost configuration:
*:443                  isp.example.net (/etc/apache2/sites-enabled/ssl.conf:2)
*:80                   is a NameVirtualHost
         default server isp.example.net (/etc/apache2/sites-enabled/ispadmin.conf:3)
         port 80 namevhost isp.example.net (/etc/apache2/sites-enabled/ispadmin.conf:3)
                 alias www.isp.example.net
         port 80 namevhost klient.example.net (/etc/apache2/sites-enabled/portal.conf:1)
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
"""


def test_parse_apache2ctl_dump():
    hosts = apache.parse_virtual_hosts(DUMP)
    by_port = {(host.port, host.server_name): host for host in hosts}
    assert set(by_port) == {(443, "isp.example.net"), (80, "isp.example.net"), (80, "klient.example.net")}
    admin = by_port[(80, "isp.example.net")]
    assert admin.default and admin.aliases == ("www.isp.example.net",) and admin.line == 3
    assert admin.file == Path("/etc/apache2/sites-enabled/ispadmin.conf")
    assert apache.find_vhost(hosts, "www.isp.example.net", 80) is admin
    assert apache.find_vhost(hosts, "dealer.example.net", 80) is None
    assert apache.default_vhost(hosts, 80) is admin


def test_macro_location_is_not_read_as_a_file_name():
    dump = ("*:80                   is a NameVirtualHost\n"
            "         port 80 namevhost m.example.net (macro 'vhost' (defined on line 1 of \"/etc/apache2/macro.conf\") "
            "used on line 11 of \"/etc/apache2/sites-enabled/m.conf\":1)\n"
            "127.0.0.2:443          s.example.net (/etc/apache2/sites-enabled/s.conf:4)\n")
    macro, ip = apache.parse_virtual_hosts(dump)
    assert (macro.file, macro.line, macro.macro) == (Path("/etc/apache2/sites-enabled/m.conf"), 11, "vhost")
    assert "line 11 of /etc/apache2/sites-enabled/m.conf" in macro.location and macro.section() is None
    assert (ip.address, ip.port, ip.connect_address, ip.specific_address) == ("127.0.0.2", 443, "127.0.0.2", True)


def test_rendered_include_is_deterministic_and_copies_the_body_it_is_given():
    paths = Paths.from_root("/")
    body = (' DocumentRoot "/data/www/"', " <Directory /data/www/>", "  Require all granted", " </Directory>")
    site = SslSite("a.example.net", body, Path("/c/fullchain.pem"), Path("/c/key.pem"))
    text = apache.render_include(paths, [site], 443)
    assert text == apache.render_include(paths, [site], 443)
    assert text.startswith(apache.BLOCK_BEGIN) and text.endswith(apache.BLOCK_END)
    assert "Alias /.well-known/acme-challenge/ /data/ispadmin_cert/challenge/" in text
    assert "<VirtualHost *:443>\n    ServerName a.example.net\n    DocumentRoot \"/data/www/\"\n" in text
    assert "    <Directory /data/www/>\n     Require all granted\n    </Directory>" in text  # relative indent kept
    assert "SSLCertificateFile /c/fullchain.pem" in text and "SSLCertificateKeyFile /c/key.pem" in text
    assert "<VirtualHost *:80>" not in text


def test_a_name_built_from_a_document_root_gets_a_port_80_vhost_too():
    paths = Paths.from_root("/")
    site = SslSite("d.example.net", apache.render_docroot_body("/srv/d"), Path("/c/f.pem"), Path("/c/k.pem"), True)
    text = apache.render_include(paths, [site], 443, http_port=80)
    assert '<VirtualHost *:80>\n    ServerName d.example.net\n    DocumentRoot "/srv/d"' in text
    assert '<VirtualHost *:443>\n    ServerName d.example.net\n    DocumentRoot "/srv/d"' in text


def test_block_replaces_only_itself_in_a_file_with_foreign_lines():
    from ispa_acmewrap.apache import editor

    paths = Paths.from_root("/")
    block = apache.render_include(paths, [], 443)
    foreign = "# admin's own\r\nHeader set X-A 1\r\n"
    first = editor.with_block(foreign, block)
    assert first.startswith(foreign) and first.endswith(block)
    assert editor.with_block(first, block) == first  # a re-run keeps everything
    newer = block.replace("acme-challenge", "acme-challenge-x")
    assert editor.with_block(first + "# after\n", newer) == foreign + "\n" + newer + "# after\n"
    assert editor.outside_block(first + "# after\n") == foreign + "\n# after\n"
    assert editor.with_block(apache.INCLUDE_HEADER + "old\n", block) == block  # an old file of ours
    assert editor.with_block("", block) == block


def test_include_line_detection_and_addition():
    paths = Paths.from_root("/")
    guide = "<VirtualHost *:80>\n</VirtualHost>\n\ninclude /usr/local/script/ispadmin/conf/apache_ispadmin_vhost.conf\n"
    assert apache.site_includes_generated(guide, paths)
    assert apache.site_includes_generated(guide.replace("include", 'Include').replace(" /usr", ' "/usr')
                                          .replace(".conf\n", '.conf"\n'), paths)
    bare = "<VirtualHost *:80>\n</VirtualHost>"
    added = apache.with_include(bare, paths)
    assert added.startswith(bare) and apache.site_includes_generated(added, paths)


def test_temp_site_serves_only_challenges():
    paths = Paths.from_root("/")
    text = apache.render_temp_site(paths, ["d.example.net"], 80)
    assert "<VirtualHost *:80>" in text and "ServerName d.example.net" in text
    assert "DocumentRoot /data/ispadmin_cert/challenge" in text


def test_redirect_rules_except_challenges_and_only_when_asked():
    paths = Paths.from_root("/")
    site = SslSite("a.example.net", (), Path("/c/fullchain.pem"), Path("/c/key.pem"))
    plain = apache.render_include(paths, [site], 443)
    assert not apache.redirects_to_https(plain) and '<If "' not in plain
    text = apache.render_include(paths, [site], 443, redirect=True)
    assert apache.redirects_to_https(text)
    assert "%{HTTPS} != 'on'" in text and r"m#^a\.example\.net(:[0-9]+)?$#" in text
    assert r"%{REQUEST_URI} !~ m#^/\.well\-known/acme\-challenge/#" in text
    assert 'RewriteRule "^" "https://a.example.net%1" [R=308,NE,L]' in text
    assert '"https://a.example.net:8443%1"' in apache.render_include(paths, [site], 8443, redirect=True)


def test_foreign_removal_is_seen_but_certificate_lines_and_our_block_are_not():
    from ispa_acmewrap.apache import editor

    block = apache.render_include(Paths.from_root("/"), [], 443)
    before = "Header set X-A 1\nSSLCertificateFile /old.cer\n" + block
    changed_certificate = editor.FileEdit(Path("/x"), before, before.replace("/old.cer", "/new.pem")
                                          .replace("Alias", "Alias "))
    assert changed_certificate.removed_foreign_lines() == []
    dropped_header = editor.FileEdit(Path("/x"), before, before.replace("Header set X-A 1\n", ""))
    assert dropped_header.removed_foreign_lines() == ["Header set X-A 1"]
    assert "-Header set X-A 1" in dropped_header.diff()


def test_only_answers_that_existed_and_changed_unintended_count():
    from ispa_acmewrap.verify import Answer, Probe, unintended_changes

    calm, ours, dormant = (Probe("calm.test", "127.0.0.1", 80, False, "s.conf:9"),
                           Probe("ours.test", "127.0.0.1", 80, False), Probe("old.test", "127.0.0.1", 443, True))
    before = {calm: Answer(200), ours: Answer(200), dormant: Answer(None, error="refused")}
    after = {calm: Answer(403), ours: Answer(301, "https://ours.test/"), dormant: Answer(200)}
    changes = unintended_changes(before, after, {"ours.test"})
    assert changes == ["http://calm.test:80/ (s.conf:9) answered 200 before and 403 now"]
    assert unintended_changes(before, {**after, calm: Answer(200)}, {"ours.test"}) == []
