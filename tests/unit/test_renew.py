"""renew: the 2/3-lifetime policy with an injected "now", what is read as the installed
certificate, the rate-limit guard, the argv, and how outcomes become exit codes and output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ispa_acmewrap import acme, console, report, runner, state as state_store
from ispa_acmewrap.actions import common, renew
from ispa_acmewrap.actions.served import installed_certificate
from ispa_acmewrap.certs import certificate_from_der
from ispa_acmewrap.errors import CommandFailed, OperationFailed, RateLimited
from ispa_acmewrap.outcomes import Outcome
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.settings import Settings
from tests.factories import ISSUED, NAME, pem, x509_certificate

SECOND = timedelta(seconds=1)


def pem_certificate(name: str, not_before: datetime, lifetime: timedelta) -> bytes:
    return pem(x509_certificate(name, not_before=not_before, lifetime=lifetime))


def info(lifetime: timedelta, not_before: datetime = ISSUED):
    der = x509_certificate(NAME, not_before=not_before, lifetime=lifetime).public_bytes(serialization.Encoding.DER)
    return certificate_from_der(der)


# --- the policy --------------------------------------------------------------------------

@pytest.mark.parametrize("lifetime, due_after", [
    (timedelta(days=90), timedelta(days=60)),            # today's Let's Encrypt certificates, the guide's 60 days
    (timedelta(days=64), timedelta(days=42, hours=16)),  # from 2027-02-10
    (timedelta(days=45), timedelta(days=30)),            # from 2028
    (timedelta(days=6), timedelta(days=4)),              # short-lived certificates
])
def test_due_exactly_when_two_thirds_of_the_lifetime_have_passed(lifetime, due_after):
    certificate = info(lifetime)
    assert not renew.decide(NAME, certificate, ISSUED + due_after - SECOND, force=False).due
    decision = renew.decide(NAME, certificate, ISSUED + due_after, force=False)
    assert decision.due
    assert decision.reason == f"due since {ISSUED + due_after:%Y-%m-%d %H:%M} UTC (2/3 of its lifetime)"


def test_a_fixed_sixty_day_rule_would_be_late_for_short_lifetimes():
    for days in (64, 45):
        certificate = info(timedelta(days=days))
        assert renew.decide(NAME, certificate, ISSUED + timedelta(days=days * 2 / 3), force=False).due
        assert certificate.renewal_due_at() < ISSUED + timedelta(days=60)


def test_not_due_names_the_next_renewal_date():
    decision = renew.decide(NAME, info(timedelta(days=90)), ISSUED + timedelta(days=10), force=False)
    assert not decision.due
    assert decision.reason == "next renewal 2026-04-30 05:00 UTC"


def test_force_renews_a_fresh_certificate_and_a_missing_one_is_due():
    assert renew.decide(NAME, info(timedelta(days=90)), ISSUED, force=True).due
    missing = renew.decide(NAME, None, ISSUED, force=False)
    assert missing.due and missing.reason == "no readable certificate"


# --- what is installed -------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(paths=Paths.from_root(tmp_path))


def put_acme_certificate(settings: Settings, name: str, pem: bytes) -> None:
    directory = acme.domain_dir(settings.paths, name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.conf").write_text(f"Le_Domain='{name}'\n")
    (directory / f"{name}.cer").write_bytes(pem)


def put_live_certificate(settings: Settings, name: str, pem: bytes) -> None:
    live = settings.paths.live(name)
    live.directory.mkdir(parents=True, exist_ok=True)
    live.cert.write_bytes(pem)


def test_the_live_certificate_decides_before_acme_shs_copy(settings):
    put_acme_certificate(settings, NAME, pem_certificate(NAME, ISSUED, timedelta(days=90)))
    put_live_certificate(settings, NAME, pem_certificate(NAME, ISSUED - timedelta(days=80), timedelta(days=90)))
    plan = [decision for _, decision in renew.plan(settings, state_store.State(), ISSUED + timedelta(days=1), force=False)]
    assert [(decision.name, decision.due) for decision in plan] == [(NAME, True)]
    assert plan[0].certificate.path == settings.paths.live(NAME).cert


def test_acme_shs_copy_when_nothing_is_installed_or_the_live_copy_is_broken(settings):
    put_acme_certificate(settings, NAME, pem_certificate(NAME, ISSUED, timedelta(days=90)))
    assert installed_certificate(settings.paths, NAME).path.name == f"{NAME}.cer"
    put_live_certificate(settings, NAME, b"not a certificate")
    assert installed_certificate(settings.paths, NAME).path.name == f"{NAME}.cer"
    (acme.domain_dir(settings.paths, NAME) / f"{NAME}.cer").unlink()
    assert installed_certificate(settings.paths, NAME) is None


def test_only_names_acme_sh_holds_are_considered(settings):
    put_live_certificate(settings, "other.example.net", pem_certificate("other.example.net", ISSUED, timedelta(days=90)))
    assert renew.plan(settings, state_store.State(), ISSUED, force=True) == []


# --- the run: guard, recording, no CA contact when blocked -------------------------------------

@pytest.fixture
def due_name(settings, monkeypatch):
    """One due certificate, acme.sh "installed", and renew_one recorded instead of run."""
    put_acme_certificate(settings, NAME, pem_certificate(NAME, ISSUED - timedelta(days=70), timedelta(days=90)))
    settings.paths.acme_home.mkdir(parents=True, exist_ok=True)
    settings.paths.acme_script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(renew, "require_root", lambda: None)
    monkeypatch.setattr(renew, "require_apache_ready", lambda _settings, _why: None)
    calls: list[str] = []
    state_store.save_state(settings.paths.state_file, state_store.with_role(state_store.State(), "admin", NAME))
    monkeypatch.setattr(renew, "renew_one",
                        lambda _settings, _console, name, ecc=True: calls.append(name) or (Outcome.RENEWED, ""))
    return calls


def test_five_recent_failures_keep_the_name_from_the_ca(settings, due_name):
    record = state_store.load_state(settings.paths.state_file)
    moment = datetime.now(timezone.utc)
    for minutes in (50, 40, 30, 20, 10):
        record = state_store.record_failure(record, NAME, moment - timedelta(minutes=minutes))
    state_store.save_state(settings.paths.state_file, record)

    result = renew.run(settings, console.Console(interactive=False, quiet=True), renew.RenewOptions())

    assert due_name == []
    [entry] = result.names
    assert entry.outcome is Outcome.BLOCKED
    with pytest.raises(RateLimited) as raised:
        renew.raise_for_failures(result)
    until = record.failures[NAME][0] + timedelta(hours=1)
    assert f"not sent to the CA before {until:%Y-%m-%d %H:%M} UTC" in raised.value.message
    assert raised.value.exit_code == 4
    assert state_store.load_state(settings.paths.state_file).last_renewal is None


def test_a_renewal_is_recorded_as_an_issuance_and_as_the_last_renewal(settings, due_name):
    result = renew.run(settings, console.Console(interactive=False, quiet=True), renew.RenewOptions())
    assert due_name == [NAME]
    assert [entry.outcome for entry in result.names] == ["renewed"]
    record = state_store.load_state(settings.paths.state_file)
    assert [(issuance.names, issuance.kind) for issuance in record.issuances] == [((NAME,), "renew")]
    assert record.last_renewal is not None
    renew.raise_for_failures(result)


def test_nothing_due_contacts_nobody_and_needs_no_acme_sh(settings, due_name):
    settings.paths.acme_script.unlink()
    put_live_certificate(settings, NAME, pem_certificate(NAME, datetime.now(timezone.utc), timedelta(days=90)))
    result = renew.run(settings, console.Console(interactive=False, quiet=True), renew.RenewOptions())
    assert due_name == [] and not result.attempted
    assert report.renew_summary(settings, result).endswith("Nothing is due.")


def test_the_cas_rate_limit_answer_is_recognised_and_recorded(settings, monkeypatch):
    paths = settings.paths
    paths.apache_confdir.mkdir(parents=True)
    paths.apache_main_config.write_text("ServerName localhost\n")
    output = ('[...] Create new order error. Le_OrderFinalize not found. {"type":"urn:ietf:params:acme:error:'
              'rateLimited","detail":"too many failed authorizations recently: see https://letsencrypt.org/docs/'
              'failed-validation-limit/","status": 429}')

    def refused(command, **_options):
        raise CommandFailed(list(command.argv), 1, output)

    monkeypatch.setattr(runner, "run", refused)
    outcome, reason = renew.renew_one(settings, console.Console(interactive=False, quiet=True), NAME)
    assert outcome == "rate-limited"
    assert reason.startswith("too many failed authorizations recently")
    record = common.record_outcome(settings, state_store.State(), NAME, outcome, "renew")
    assert len(record.failures[NAME]) == 1
    result = renew.RenewResult((renew.RenewedName(NAME, outcome, None, reason),))
    with pytest.raises(RateLimited) as raised:
        renew.raise_for_failures(result)
    assert "the CA refuses it for now" in raised.value.message
    assert "5 failed validations per account, hostname and hour" in raised.value.hint


def test_a_failed_renewal_exits_1_with_the_reason():
    result = renew.RenewResult((renew.RenewedName(NAME, Outcome.FAILED, None, "Connection refused"),
                                renew.RenewedName("b.example.net", Outcome.RENEWED, None)))
    with pytest.raises(OperationFailed) as raised:
        renew.raise_for_failures(result)
    assert raised.value.exit_code == 1
    assert f"{NAME}: Connection refused" in raised.value.message


def test_renewed_but_not_served_is_a_failure():
    result = renew.RenewResult((renew.RenewedName(NAME, Outcome.RENEWED, None),), not_served="Apache does not serve it")
    with pytest.raises(OperationFailed, match="Apache does not serve it"):
        renew.raise_for_failures(result)


# --- output ----------------------------------------------------------------------------------

def test_cron_line_is_one_line_naming_each_outcome():
    result = renew.RenewResult((
        renew.RenewedName("a.example.net", Outcome.RENEWED, None),
        renew.RenewedName("b.example.net", Outcome.NOT_DUE, None),
        renew.RenewedName("c.example.net", Outcome.FAILED, None, "timeout"),
        renew.RenewedName("d.example.net", Outcome.BLOCKED, None, "held"),
    ))
    assert result.attempted
    assert report.renew_cron_line(result) == ("ispa-cert renew: renewed: a.example.net; failed: c.example.net; "
                                              "held back by the rate-limit guard: d.example.net")
    assert not renew.RenewResult((renew.RenewedName("b.example.net", Outcome.NOT_DUE, None),)).attempted


def test_summary_shows_the_next_renewal_date_per_certificate(settings):
    certificate = info(timedelta(days=90))
    result = renew.RenewResult((renew.RenewedName(NAME, Outcome.NOT_DUE, certificate, "next renewal …",
                                                  certificate.renewal_due_at()),))
    summary = report.renew_summary(settings, result)
    assert "next renewal" in summary
    assert "2026-04-30 05:00 UTC" in summary and "2026-05-30 05:00 UTC" in summary


def test_no_certificates_yet_says_how_to_get_them(settings):
    assert "`ispa-cert issue`" in report.renew_summary(settings, renew.RenewResult())


# --- argv ---------------------------------------------------------------------------------------

def test_renew_and_upgrade_argv(settings):
    paths = settings.paths
    argv = list(acme.renew_command(paths, NAME, force=True).argv)
    assert argv[:5] == [str(paths.acme_script), "--renew", "-d", NAME, "--ecc"]
    assert argv[-1] == "--force"
    assert ["--home", str(paths.acme_home)] == argv[argv.index("--home"):argv.index("--home") + 2]
    assert ["--cert-home", str(paths.cert_home)] == argv[argv.index("--cert-home"):argv.index("--cert-home") + 2]
    assert "--force" not in acme.renew_command(paths, NAME).argv
    upgrade = list(acme.upgrade_command(paths).argv)
    assert upgrade[:2] == [str(paths.acme_script), "--upgrade"] and "--home" in upgrade
