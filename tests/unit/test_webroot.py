"""acme.sh's webroot: its .well-known/acme-challenge leads to the challenge directory the Alias serves."""

from __future__ import annotations

import os

from ispa_acmewrap import acme
from ispa_acmewrap.actions.common import prepare_webroot
from ispa_acmewrap.paths import Paths


def test_the_webroot_leads_to_the_challenge_directory_by_a_relative_link(tmp_path):
    paths = Paths.from_root(tmp_path)
    prepare_webroot(paths)

    link = paths.acme_webroot / ".well-known" / "acme-challenge"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))  # survives moving the root
    assert link.resolve() == paths.challenge_dir.resolve() and paths.challenge_dir.is_dir()
    (link / "token").write_text("key-authorization")  # as acme.sh writes it ...
    assert (paths.challenge_dir / "token").read_text() == "key-authorization"  # ... where the Alias serves it
    command = acme.issue_command(paths, "isp.example.net", "letsencrypt")
    assert command.argv[command.argv.index("--webroot") + 1] == str(paths.acme_webroot)


def test_a_directory_in_the_links_place_is_replaced_and_a_right_link_kept(tmp_path):
    paths = Paths.from_root(tmp_path)
    made_by_acme = paths.acme_webroot / ".well-known" / "acme-challenge"
    made_by_acme.mkdir(parents=True)
    (made_by_acme / "old-token").write_text("x")

    prepare_webroot(paths)
    assert made_by_acme.is_symlink() and made_by_acme.resolve() == paths.challenge_dir.resolve()
    (paths.challenge_dir / "kept").write_text("y")
    prepare_webroot(paths)  # nothing to do: the link and the challenge directory stay as they are
    assert (made_by_acme / "kept").read_text() == "y"
