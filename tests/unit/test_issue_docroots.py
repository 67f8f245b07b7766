"""A name without a port-80 vhost of its own needs a document root: given, remembered, or refused."""

from pathlib import Path

import pytest

from ispa_acmewrap.actions.issue import IssueOptions, choose_docroots, confirm_names
from ispa_acmewrap.apache import VirtualHost, plan
from ispa_acmewrap.errors import BadInput
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.console import Console
from ispa_acmewrap.settings import Settings
from ispa_acmewrap.state import State


def settings(tmp_path: Path) -> Settings:
    return Settings(paths=Paths.from_root(tmp_path))


HOSTS = [VirtualHost(80, "admin.example.net", (), Path("/etc/apache2/sites-enabled/ispadmin.conf"), 3),
         VirtualHost(443, "secure.example.net", (), Path("/etc/apache2/sites-enabled/secure.conf"), 1),
         VirtualHost(443, "pinned.example.net", (), Path("/etc/apache2/sites-enabled/pinned.conf"), 1,
                     address="192.0.2.7")]
UNATTENDED = Console(interactive=False, assume_yes=True, quiet=True)


def test_a_name_with_its_own_vhost_needs_none(tmp_path):
    assert choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("admin",)),
                           {"admin": "admin.example.net"}, HOSTS) == {}


def test_without_a_vhost_unattended_it_is_refused_naming_the_option(tmp_path):
    with pytest.raises(BadInput) as refused:
        choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("dealer",)),
                        {"dealer": "dealer.example.net"}, HOSTS)
    assert "dealer.example.net has no port-80 virtual host" in refused.value.message
    assert "--dealer-docroot" in refused.value.hint


def test_a_given_document_root_is_checked_and_remembered(tmp_path):
    site = tmp_path / "srv" / "dealer"
    with pytest.raises(BadInput):
        choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("dealer",), docroots={
            "dealer": str(site)}), {"dealer": "dealer.example.net"}, HOSTS)
    site.mkdir(parents=True)
    chosen = {"dealer": "dealer.example.net"}
    docroots = choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("dealer",), docroots={
        "dealer": str(site)}), chosen, HOSTS)
    assert docroots == {"dealer": str(site)}
    record = confirm_names(State(), chosen, docroots)
    assert (record.roles, record.docroots) == (chosen, {"dealer": str(site)})
    assert choose_docroots(settings(tmp_path), UNATTENDED, record, IssueOptions(roles=("dealer",)), chosen,
                           HOSTS) == {"dealer": str(site)}


def test_the_document_root_of_the_old_name_is_not_the_new_names_site(tmp_path):
    old_site = tmp_path / "srv" / "portal-old"
    old_site.mkdir(parents=True)
    record = confirm_names(State(), {"client": "old.example.net"}, {"client": str(old_site)})
    with pytest.raises(BadInput, match="new.example.net has no port-80 virtual host"):
        choose_docroots(settings(tmp_path), UNATTENDED, record, IssueOptions(roles=("client",)),
                        {"client": "new.example.net"}, HOSTS)
    # the new name is served by its own HTTPS vhost: the old name's directory is forgotten with it
    renamed = confirm_names(record, {"client": "secure.example.net"}, {})
    assert (renamed.roles, renamed.docroots) == ({"client": "secure.example.net"}, {})
    assert confirm_names(record, {"client": "old.example.net"}, {}).docroots == {"client": str(old_site)}


def test_a_name_served_by_its_own_https_vhost_needs_none(tmp_path):
    # no port-80 vhost, but its *:443 vhost is updated in place: nothing to ask, nothing to refuse
    assert choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("client",)),
                           {"client": "secure.example.net"}, HOSTS) == {}


SITES = {"ispadmin.conf": "<VirtualHost *:80>\n  ServerName admin.example.net\n  DocumentRoot /srv/admin\n"
                          "</VirtualHost>\n",
         "secure.conf": "<VirtualHost *:443>\n  ServerName secure.example.net\n  SSLEngine on\n"
                        "  SSLCertificateFile /etc/ssl/secure.pem\n  SSLCertificateKeyFile /etc/ssl/secure.key\n"
                        "</VirtualHost>\n",
         "pinned.conf": "<VirtualHost 192.0.2.7:443>\n  ServerName pinned.example.net\n  SSLEngine on\n"
                        "  SSLCertificateFile /etc/ssl/pinned.pem\n  SSLCertificateKeyFile /etc/ssl/pinned.key\n"
                        "</VirtualHost>\n"}


@pytest.mark.parametrize("name, needed", [("admin.example.net", False), ("secure.example.net", False),
                                          ("pinned.example.net", True), ("dealer.example.net", True)])
def test_the_plan_needs_a_document_root_exactly_when_it_says_so(tmp_path, name, needed):
    paths = Paths.from_root(tmp_path)
    sites = tmp_path / "sites"
    sites.mkdir()
    for file, text in SITES.items():
        (sites / file).write_text(text)
    hosts = [VirtualHost(host.port, host.server_name, (), sites / host.file.name, 1, address=host.address)
             for host in HOSTS]
    assert plan.needs_document_root(name, hosts, paths, 80, 443) is needed
    live = paths.live(name)
    if needed:  # without one the plan refuses; an IP-specific HTTPS vhost alone is no site for *:443
        with pytest.raises(BadInput, match="has no port-80 virtual host"):
            plan.plan_name(name, hosts, paths, live.fullchain, live.key, 80, 443)
    else:  # only a name with a port-80 vhost of its own has an HTTP site to compare its HTTPS with
        assert plan.plan_name(name, hosts, paths, live.fullchain, live.key, 80, 443).http_site is (
            name == "admin.example.net")


def test_a_relative_document_root_is_taken_from_the_current_directory(tmp_path, monkeypatch):
    from ispa_acmewrap.actions.issue import rerun_command

    (tmp_path / "srv" / "dealer").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "srv")
    options = IssueOptions(roles=("dealer",), docroots={"dealer": "./dealer/"})
    chosen = {"dealer": "dealer.example.net"}
    docroots = choose_docroots(settings(tmp_path), UNATTENDED, State(), options, chosen, HOSTS)
    assert docroots == {"dealer": str(tmp_path / "srv" / "dealer")}  # not "dealer", which Apache reads from ServerRoot
    rerun = rerun_command(settings(tmp_path), options, chosen)
    assert rerun[rerun.index("--dealer-docroot") + 1] == str(tmp_path / "srv" / "dealer")
