"""Profiles and ARI on Pebble 2.10 with acme.sh 3.1.5: certificates of 90, 64, 45 and 6 days, each
shown with its lifetime and renewal moment; an unknown profile refused listing the offered ones; a
window moved into the past renews that name (and only it) with `replaces`, after Retry-After."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from ispa_acmewrap import state as state_store
from tests.conftest import ToolRunner
from tests.e2e.support import serial_on_disk, serial_served
from tests.stack import LETSENCRYPT_PROFILES, Stack, make_sandbox

pytestmark = pytest.mark.e2e

ADMIN, PORTAL, DEALER = "admin.ispa.test", "portal.ispa.test", "dealer.ispa.test"
FLAGS = {ADMIN: ("-a", "--admin-domain"), PORTAL: ("-c", "--client-domain"), DEALER: ("-d", "--dealer-domain")}
INCIDENT = "https://ca.example/incident/2027-revocation"


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def issue(tool: ToolRunner, name: str, profile: str):
    flag, option = FLAGS[name]
    extra = []
    if name == DEALER:  # the dealer portal has no port-80 vhost of its own: it is served from a document root
        site = Path(tool.env["ISPA_ROOT"]) / "srv" / "dealer"
        site.mkdir(parents=True, exist_ok=True)
        (site / "index.html").write_text("<h1>dealer portal</h1>\n")
        extra = ["--dealer-docroot", str(site)]
    return tool("issue", flag, option, name, *extra, "--profile", profile, "--server-ip", "127.0.0.1", "--yes")


def status(tool: ToolRunner) -> dict[str, dict]:
    result = tool("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)["certificates"]}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    root = make_sandbox()
    running = Stack.start(root, profiles=LETSENCRYPT_PROFILES)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tool(stack) -> ToolRunner:
    return ToolRunner(stack.tool_env())


@pytest.fixture(scope="module")
def issued(stack, tool) -> dict[str, dict]:
    """admin 90 days (classic), then portal 64, dealer 45, then admin again as 6 days (shortlived)."""
    result = issue(tool, ADMIN, "classic")
    assert result.returncode == 0, result.stdout + result.stderr
    first = status(tool)[ADMIN]
    for name, profile in ((PORTAL, "classic2027"), (DEALER, "tlsserver"), (ADMIN, "shortlived")):
        result = issue(tool, name, profile)
        assert result.returncode == 0, result.stdout + result.stderr
    return {"classic": first, **status(tool)}


def test_each_profile_gives_its_lifetime_and_status_shows_it_with_the_renewal_moment(stack, tool, issued):
    assert (issued["classic"]["profile"], issued["classic"]["lifetime_days"]) == ("classic", 90)
    expected = {ADMIN: ("shortlived", 6), PORTAL: ("classic2027", 64), DEALER: ("tlsserver", 45)}
    for name, (profile, days) in expected.items():
        row = issued[name]
        assert (row["profile"], row["lifetime_days"]) == (profile, days), row
        certificate = x509.load_pem_x509_certificate(stack.paths.live(name).cert.read_bytes())
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        assert abs(lifetime - timedelta(days=days)) <= timedelta(seconds=1)  # notAfter is inclusive
        # Pebble's window: NotAfter - lifetime/3 +- 1 day; the moment is inside it and never after 2/3
        two_thirds = iso(row["not_before"]) + timedelta(days=days) * 2 / 3
        ari = row["ari"]
        assert ari is not None and row["renewal_rule"] == "ari", row
        assert iso(ari["window_start"]) <= iso(ari["renew_at"]) <= min(iso(ari["window_end"]), two_thirds)
        assert row["renewal_due_at"] == ari["renew_at"] and row["renewal_due"] is False
    assert state_store.load_state(stack.paths.state_file).profiles == {name: p for name, (p, _) in expected.items()}

    text = tool("status", "--wide").stdout
    for name, (profile, days) in expected.items():
        line = next(line for line in text.splitlines() if line.startswith(name))
        assert f" {profile} " in line and f" {days} days " in line
        assert issued[name]["ari"]["renew_at"][:16].replace("T", " ") in line
    doctor = tool("doctor", "--offline")
    assert f"OK      renewal-info {ADMIN}: profile shortlived, 6 days; the CA's window" in doctor.stdout
    assert doctor.returncode == 0, doctor.stdout  # a fresh 6-day certificate is not critical


def test_an_unknown_profile_is_refused_listing_the_offered_ones(stack, tool, issued):
    before = stack.paths.state_file.read_bytes()
    result = issue(tool, DEALER, "longlived")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "offers no profile 'longlived'; it offers: classic (90-day certificates); classic2027" in result.stderr
    assert "shortlived (6-day certificates)" in result.stderr and "Traceback" not in result.stderr
    assert stack.paths.state_file.read_bytes() == before


def test_a_window_moved_into_the_past_renews_that_name_only_with_replaces(stack, tool, issued):
    serials = {name: serial_on_disk(stack.paths, name) for name in FLAGS}
    past = datetime.now(timezone.utc) - timedelta(days=2)
    stack.pebble.set_renewal_info(stack.paths.live(PORTAL).cert.read_text(), f"{past:%Y-%m-%dT%H:%M:%SZ}",
                                  f"{past + timedelta(hours=12):%Y-%m-%dT%H:%M:%SZ}", INCIDENT)

    waiting = tool("renew", "--cron")  # Retry-After (6 h at Pebble) has not passed: the CA is not asked yet
    assert (waiting.returncode, waiting.stdout, waiting.stderr) == (0, "", "")
    assert {name: serial_on_disk(stack.paths, name) for name in FLAGS} == serials

    record = state_store.load_state(stack.paths.state_file)  # as if the 6 hours had passed
    aged = record.renewal_info[PORTAL].__class__(**{**record.renewal_info[PORTAL].__dict__,
                                                     "next_check": past})
    state_store.save_state(stack.paths.state_file, state_store.with_renewal_info(record, PORTAL, aged))
    replacements = len(stack.pebble.replacements())

    result = tool("renew", "--cron")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (f"ispa-cert renew: renewed: {PORTAL}; {PORTAL}: the CA asked for early replacement: "
                             f"{INCIDENT}\n")
    assert len(stack.pebble.replacements()) == replacements + 1
    renewed = serial_on_disk(stack.paths, PORTAL)
    assert renewed != serials[PORTAL] and serial_served(stack, PORTAL) == renewed
    der, response = stack.https_get(PORTAL)
    assert x509.load_der_x509_certificate(der).serial_number == renewed and b"200 OK" in response.split(b"\r\n")[0]
    assert {name: serial_on_disk(stack.paths, name) for name in (ADMIN, DEALER)} == \
        {name: serials[name] for name in (ADMIN, DEALER)}
    assert INCIDENT in stack.paths.log_file.read_text()
    row = status(tool)[PORTAL]
    assert (row["profile"], row["lifetime_days"], row["early_replacement"]) == ("classic2027", 64, False)
    assert iso(row["ari"]["window_start"]) > datetime.now(timezone.utc)  # the new certificate's own window
