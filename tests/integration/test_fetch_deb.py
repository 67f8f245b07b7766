"""vendor/fetch-deb: the pins are what is unpacked, and a version that left the rolling suites is
refused with a message naming the version there now. Runs on the package lists `make install`
left in .cache/apt/ (FETCH_DEB_OFFLINE=1: no network)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
FETCH = REPO / "vendor" / "fetch-deb"
PINS = {REPO / "vendor" / "acme.sh" / "pin.lock": REPO / "vendor" / "acme.sh",
        REPO / "vendor" / "pebble" / "pin.lock": REPO / ".cache" / "pebble"}


def pin_values(pin: Path) -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", pin.read_text(), re.MULTILINE))


def fetch(pin: Path, target: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(FETCH), str(pin), str(target)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FETCH_DEB_OFFLINE": "1"})


def test_the_pinned_versions_are_unpacked():
    for pin, target in PINS.items():
        values = pin_values(pin)
        assert (target / ".version").read_text().split() == [values["package"], values["version"], values["sha256"]]
    assert "VER=3.1.5\n" in (REPO / "vendor" / "acme.sh" / "acme.sh").read_text()
    assert pin_values(REPO / "vendor" / "acme.sh" / "pin.lock")["suites"] == "forky sid"


def test_a_version_that_left_the_suites_is_refused_naming_the_one_there(tmp_path):
    values = pin_values(REPO / "vendor" / "acme.sh" / "pin.lock")
    pin = tmp_path / "pin.lock"
    pin.write_text((REPO / "vendor" / "acme.sh" / "pin.lock").read_text().replace(
        f"version={values['version']}", "version=3.1.4-1"))
    target = tmp_path / "unpacked"

    result = fetch(pin, target)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "acme.sh 3.1.4-1 is no longer in forky or sid" in result.stderr
    assert f"they have {values['version']} (forky)" in result.stderr  # the newer version, named
    assert f"set version= and sha256= in {pin}" in result.stderr
    assert not target.exists()  # nothing else was taken instead


def test_a_pin_missing_a_field_is_refused(tmp_path):
    pin = tmp_path / "pin.lock"
    pin.write_text("package=acme.sh\nversion=1\n")
    result = fetch(pin, tmp_path / "unpacked")
    assert result.returncode == 1
    assert "must name package, version, suites, sha256 and take" in result.stderr
