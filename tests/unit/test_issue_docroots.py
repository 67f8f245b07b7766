"""A name without a port-80 vhost of its own needs a document root: given, remembered, or refused."""

from pathlib import Path

import pytest

from ispa_acmewrap.actions.issue import IssueOptions, choose_docroots
from ispa_acmewrap.apache import VirtualHost
from ispa_acmewrap.errors import BadInput
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.console import Console
from ispa_acmewrap.settings import Settings
from ispa_acmewrap.state import State


def settings(tmp_path: Path) -> Settings:
    return Settings(paths=Paths.from_root(tmp_path))


HOSTS = [VirtualHost(80, "admin.example.net", (), Path("/etc/apache2/sites-enabled/ispadmin.conf"), 3)]
UNATTENDED = Console(interactive=False, assume_yes=True, quiet=True)


def test_a_name_with_its_own_vhost_needs_none(tmp_path):
    record = choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("admin",)),
                             {"admin": "admin.example.net"}, HOSTS)
    assert record.docroots == {}


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
    record = choose_docroots(settings(tmp_path), UNATTENDED, State(), IssueOptions(roles=("dealer",), docroots={
        "dealer": str(site)}), {"dealer": "dealer.example.net"}, HOSTS)
    assert record.docroots == {"dealer": str(site)}
    again = choose_docroots(settings(tmp_path), UNATTENDED, record, IssueOptions(roles=("dealer",)),
                            {"dealer": "dealer.example.net"}, HOSTS)
    assert again.docroots == {"dealer": str(site)}
