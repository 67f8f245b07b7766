"""The model, the planner and the editor on the corpus of real-world Apache trees, with
Apache's own vhost dump (apache2ctl -t -D DUMP_VHOSTS, mod_ssl loaded with -C).
No Apache is started: these are quick."""

from __future__ import annotations

from pathlib import Path

import pytest

from ispa_acmewrap import runner
from ispa_acmewrap.apache import conf, editor, model, plan, render
from ispa_acmewrap.errors import BadInput
from tests.apache_trees import TreeLayer, case
from tests.stack import SandboxApache


@pytest.fixture
def tree(sandbox_paths):
    apache = SandboxApache(sandbox_paths).create()
    layer = TreeLayer(apache)

    def lay(name: str) -> SandboxApache:
        layer.apply(case(name))
        return apache

    return lay


def dump(apache: SandboxApache) -> list[model.VirtualHost]:
    result = runner.run(model.dump_command(apache.paths))
    return model.parse_virtual_hosts(result.output)


def plan_for(apache: SandboxApache, hosts, name: str, **extra) -> plan.NamePlan:
    live = apache.paths.live(name)
    return plan.plan_name(name, hosts, apache.paths, live.fullchain, live.key, apache.http_port, apache.https_port,
                          **extra)


def test_dump_with_mod_ssl_off_still_shows_dormant_ssl_vhosts(tree):
    apache = tree("ssl-inplace")
    assert not (apache.paths.mods_enabled / "ssl.load").exists()
    hosts = dump(apache)
    on_https = [(h.address, h.line) for h in hosts if h.port == apache.https_port]
    assert on_https == [("127.0.0.2", 11), ("*", 23)]  # _default_ is reported as *
    assert all(h.file.name == "secure.conf" for h in hosts if h.port == apache.https_port)


def test_several_vhosts_per_file_aliases_wildcards_and_a_name_without_a_dot(tree):
    apache = tree("company")
    hosts = dump(apache)
    shop = model.find_vhost(hosts, "shop.example.test", apache.http_port)
    assert shop.line == 3 and shop.aliases == ("www.shop.example.test", "*.shop.example.test")
    assert model.find_vhost(hosts, "cdn.shop.example.test", apache.http_port) is shop  # wildcard alias
    blog = model.find_vhost(hosts, "blog.example.test", apache.http_port)
    assert blog.line == 20 and blog.section().line.text == f"<Virtualhost *:{apache.http_port}>"
    assert model.find_vhost(hosts, "intranet", apache.http_port).line == 29


def test_copy_keeps_application_rules_and_continued_lines_and_drops_only_the_loop(tree):
    apache = tree("company")
    found = plan_for(apache, dump(apache), "shop.example.test")
    body = "\n".join(found.site.body)
    assert "RewriteRule ^/legacy$ /new.html [R=301,L]" in body
    assert f"RewriteRule ^/api/(.*)$ http://127.0.0.1:{apache.http_port}/backend/$1 [P]" in body
    assert 'Header always set X-Shop "kept \\\n        over two lines"' in body  # both physical lines, in order
    assert "https://" not in body and "RewriteCond" not in body  # the loop and its conditions are gone
    assert [rule.split(": ", 1)[1] for rule in found.dropped] == [
        "RewriteCond %{HTTPS} !=on", "RewriteCond %{REQUEST_URI} ^/secure",
        "RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]"]
    assert found.dropped[0].split(": ")[0].endswith("company.conf:13")
    assert "ServerAlias" not in body and "ServerName" not in body


def test_odd_case_and_ragged_indentation_are_copied_as_one_block(tree):
    apache = tree("company")
    found = plan_for(apache, dump(apache), "blog.example.test")
    assert found.site.body[-1].strip() == "Redirect /old /new.html"  # not a loop: kept
    assert sum(1 for line in found.site.body if "Directory" in line) == 2


def test_include_with_a_loop_is_inlined_without_it_and_sections_are_kept(tree):
    apache = tree("main-config")
    hosts = dump(apache)
    found = plan_for(apache, hosts, "portal.corp.test")
    assert found.source.endswith(f"apache2.conf:{_line_of(apache.paths.apache_main_config, 'ServerName portal')-1}")
    body = "\n".join(found.site.body)
    assert "Include conf-available/portal-rules.conf" not in body.replace("# Include", "")
    assert "Redirect permanent /old-home /index.html" in body
    assert "RedirectMatch" not in body
    assert "<IfModule mod_rewrite.c>" in body and '<If "%{QUERY_STRING} =~ /debug/">' in body
    assert len(found.dropped) == 1 and "portal-rules.conf:4" in found.dropped[0]


def test_include_without_a_loop_stays_an_include(tree, tmp_path):
    apache = tree("main-config")
    rules = apache.paths.apache_confdir / "conf-available" / "portal-rules.conf"
    rules.write_text("Redirect permanent /old-home /index.html\n")
    found = plan_for(apache, dump(apache), "portal.corp.test")
    assert "\tInclude conf-available/portal-rules.conf" in found.site.body
    assert found.dropped == ()


def test_existing_ssl_vhosts_are_updated_in_place_only_certificate_lines(tree):
    apache = tree("ssl-inplace")
    found = plan_for(apache, dump(apache), "secure.example.test")
    assert found.site is None  # the _default_ one covers *: no second vhost of ours
    assert [h.line for h in found.in_place] == [11, 23]
    assert found.addresses == ["127.0.0.2", "127.0.0.1"]
    file = found.in_place[0].file.resolve()
    before = file.read_text()
    live = apache.paths.live("secure.example.test")
    changes = [r for host in found.in_place
               for r in editor.certificate_replacements(host.section(), live.fullchain, live.key)]
    after = editor.apply(before, changes)
    diff = [line for line in __import__("difflib").ndiff(before.splitlines(), after.splitlines())
            if line[:1] in "+-"]
    assert len(diff) == 10  # 5 certificate lines out, 5 in; nothing else
    assert all("SSLCertificate" in line for line in diff)
    assert f"        SSLCertificateFile {live.fullchain}\n" in after
    assert "# SSLCertificateChainFile" in after
    edit = editor.FileEdit(file, before, after)
    assert edit.removed_foreign_lines() == []


def test_default_vhost_without_ssl_engine_is_refused_naming_file_and_line(tree):
    apache = tree("ip-default")
    with pytest.raises(plan.ApacheRefusal) as refused:
        plan_for(apache, dump(apache), "legacy.example.test")
    assert "legacy.conf:9" in refused.value.message and "SSLEngine on" in refused.value.message


def test_ip_specific_group_that_does_not_know_the_name_is_refused(tree):
    apache = tree("ssl-inplace")
    hosts = dump(apache)
    with pytest.raises(plan.ApacheRefusal) as refused:
        plan_for(apache, hosts, "other.example.test", dns_addresses=("127.0.0.2",), document_root="/srv")
    assert "127.0.0.2" in refused.value.message and "secure.conf:11" in refused.value.message


def test_macro_vhost_is_refused_with_the_line_where_the_macro_is_used(tree):
    apache = tree("macro")
    hosts = dump(apache)
    host = model.find_vhost(hosts, "macro.example.test", apache.http_port)
    assert host.macro == "clientsite" and host.line == 11 and host.file.name == "macros.conf"
    with pytest.raises(plan.ApacheRefusal) as refused:
        plan_for(apache, hosts, "macro.example.test")
    assert "line 11 of" in refused.value.message and "mod_macro" in refused.value.message


def test_name_without_vhost_needs_a_document_root(tree):
    apache = tree("docroot")
    hosts = dump(apache)
    with pytest.raises(BadInput):
        plan_for(apache, hosts, "dealer.example.test")
    found = plan_for(apache, hosts, "dealer.example.test", document_root=str(apache.paths.root / "srv/dealer"))
    assert found.site.with_http and any("srv/dealer" in line for line in found.site.body)


def test_rendered_block_passes_apache_configtest(tree):
    apache = tree("company")
    hosts = dump(apache)
    sites = [plan_for(apache, hosts, name).site for name in ("shop.example.test", "blog.example.test")]
    for site in sites:  # any certificate will do for a syntax check
        site.certificate.parent.mkdir(parents=True, exist_ok=True)
        _self_signed(site.certificate, site.key)
    block = render.render_include(apache.paths, sites, apache.https_port, http_port=apache.http_port)
    apache.paths.vhost_include.write_text(editor.with_block("", block))
    (apache.paths.mods_enabled / "ssl.load").symlink_to("../mods-available/ssl.load")
    (apache.paths.mods_enabled / "socache_shmcb.load").symlink_to("../mods-available/socache_shmcb.load")
    result = apache.ctl("configtest", check=False)
    assert result.returncode == 0, result.stderr


def _line_of(file: Path, text: str) -> int:
    return next(number for number, line in enumerate(file.read_text().splitlines(), 1) if text in line)


def _self_signed(certificate: Path, key: Path) -> None:
    import subprocess

    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", "/CN=x"],
                   check=True, capture_output=True)


def test_reader_joins_continued_lines_and_keeps_bytes(tmp_path):
    file = tmp_path / "x.conf"
    text = "<VirtualHost *:80>\r\n  Header set A \"1 \\\r\n   2\"\r\n</VirtualHost>\r\n# caf\udce9\n"
    nodes = conf.parse(file, text)
    header = nodes[0].children[0].line
    assert header.number == 2 and header.text == 'Header set A "1    2"' and len(header.physical) == 2
    assert "".join(nodes[0].physical) + nodes[1].line.physical[0] == text
    replaced = editor.apply(text, [editor.replace_line(header, "Header set A 3")])
    assert replaced == "<VirtualHost *:80>\r\n  Header set A 3\r\n</VirtualHost>\r\n# caf\udce9\n"
