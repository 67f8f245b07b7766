"""upgrade: installed acme.sh against the vendored one; unknown is never older or newer."""

from __future__ import annotations

import pytest
from packaging.version import Version

from ispa_acmewrap import report
from ispa_acmewrap.actions.upgrade import NOT_INSTALLED, UNKNOWN, UpgradeResult, compare, label

VENDORED = Version("3.1.1")


@pytest.mark.parametrize("installed, present, verdict", [
    (None, False, "install"),
    (Version("3.0.0"), True, "upgrade"),
    (Version("3.1.1-beta"), True, "upgrade"),
    (Version("3.1.1"), True, "current"),
    (Version("3.1.2"), True, "newer"),
    (Version("3.0.7-1"), True, "upgrade"),  # a post-release of 3.0.7 is still older
    (None, True, "unknown"),                 # `master`, `-dirty`: neither older nor newer
])
def test_compare(installed, present, verdict):
    assert compare(installed, present, VENDORED) == verdict


def test_labels():
    assert label(None, False) == NOT_INSTALLED
    assert label(None, True) == UNKNOWN
    assert label(Version("3.0.0"), True) == "3.0.0"


def test_the_summary_says_which_version_was_and_is_installed():
    text = report.upgrade_summary(UpgradeResult("upgraded", "3.0.0", "3.1.1", "3.1.1"))
    assert "from 3.0.0 to 3.1.1" in text
    unknown = report.upgrade_summary(UpgradeResult("kept-unknown", UNKNOWN, UNKNOWN, "3.1.1"))
    assert "unknown" in unknown and "left alone" in unknown
