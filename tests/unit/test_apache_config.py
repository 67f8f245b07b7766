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


def test_vhost_body_and_document_root(tmp_path):
    conf = tmp_path / "ispadmin.conf"
    conf.write_text('options FollowSymLinks\n\n<VirtualHost *:80>\n ServerName a.example.net\n'
                    ' DocumentRoot "/data/www/"\n <Directory /data/www/>\n  Require all granted\n </Directory>\n'
                    '</VirtualHost>\n\ninclude /x.conf\n')
    host = apache.VirtualHost(80, "a.example.net", (), conf, 3)
    body = apache.vhost_body(host)
    assert body[0] == " ServerName a.example.net" and body[-1] == " </Directory>"
    assert apache.document_root(body) == "/data/www/"


def test_rendered_include_is_deterministic_and_copies_the_port_80_vhost():
    paths = Paths.from_root("/")
    body = (" ServerName a.example.net", " ServerAlias www.a.example.net", ' DocumentRoot "/data/www/"',
            " Redirect / https://a.example.net/", " <Directory /data/www/>", "  Require all granted", " </Directory>")
    site = SslSite("a.example.net", body, Path("/c/fullchain.pem"), Path("/c/key.pem"))
    text = apache.render_include(paths, [site], 443)
    assert text == apache.render_include(paths, [site], 443)
    assert text.startswith(apache.INCLUDE_HEADER)
    assert "Alias /.well-known/acme-challenge/ /data/ispadmin_cert/challenge/" in text
    assert "<VirtualHost *:443>\n    ServerName a.example.net\n    DocumentRoot \"/data/www/\"\n" in text
    assert "    <Directory /data/www/>\n     Require all granted\n    </Directory>" in text  # relative indent kept
    assert "ServerAlias" not in text and "Redirect" not in text
    assert "SSLCertificateFile /c/fullchain.pem" in text and "SSLCertificateKeyFile /c/key.pem" in text


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
