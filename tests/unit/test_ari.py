"""ARI (RFC 9773) and the renewal decision: certID, the CA's answer, the moment chosen once, and
for 90-, 64-, 45- and 6-day certificates — with and without a window — that renewal comes at
least a third of the lifetime before expiry and that a daily run never lets one expire."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from ispa_acmewrap import ca, renewal, report, state as state_store
from ispa_acmewrap.actions import common, renew
from ispa_acmewrap.ca import RenewalInfo
from ispa_acmewrap.outcomes import Outcome
from ispa_acmewrap.certs import CertificateInfo
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.settings import Settings
from tests.factories import NAME, certificate_info

ISSUED = datetime(2027, 3, 1, 5, 0, tzinfo=timezone.utc)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
AKI = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
LIFETIMES = (90, 64, 45, 6)


def certificate(lifetime_days: float, serial: int = 0x87654321, not_before: datetime = ISSUED,
                aki: bytes | None = AKI) -> CertificateInfo:
    return certificate_info(NAME, not_before=not_before, lifetime=lifetime_days * DAY, serial=serial, aki=aki)


def answer(cert: CertificateInfo, start: datetime, end: datetime, explanation: str | None = None,
           checked: datetime = ISSUED) -> RenewalInfo:
    return RenewalInfo(ca.cert_id(cert), checked, checked + 6 * HOUR, start, end, explanation)


# --- certID ------------------------------------------------------------------------------------

def test_cert_id_is_the_rfc_9773_example():
    assert ca.cert_id(certificate(90, serial=0x0087654321)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_a_serial_with_the_high_bit_set_gets_its_sign_byte_and_no_aki_means_no_cert_id():
    assert ca.serial_der_bytes(0x80) == b"\x00\x80"
    assert ca.serial_der_bytes(0x7F) == b"\x7f"
    assert ca.serial_der_bytes(0x0100) == b"\x01\x00"
    assert ca.cert_id(certificate(90, aki=None)) is None


# --- the CA's answer ------------------------------------------------------------------------------

def test_the_window_explanation_and_retry_after_are_read():
    info = ca.parse_renewal_info("id", {"suggestedWindow": {"start": "2027-04-20T00:00:00Z",
                                                            "end": "2027-04-22T00:00:00.123456789Z"},
                                        "explanationURL": "https://ca.example/incident"}, "21600", ISSUED)
    assert (info.window_start, info.window_end) == (datetime(2027, 4, 20, tzinfo=timezone.utc),
                                                    datetime(2027, 4, 22, 0, 0, 0, 123456, tzinfo=timezone.utc))
    assert info.explanation_url == "https://ca.example/incident"
    assert info.next_check == ISSUED + 6 * HOUR


@pytest.mark.parametrize("header, delay", [
    (None, 6 * HOUR), ("3600", HOUR), ("0", timedelta(minutes=1)), ("99999999", DAY), ("soon", 6 * HOUR),
    ("Mon, 01 Mar 2027 07:00:00 GMT", 2 * HOUR),
])
def test_retry_after_is_seconds_or_a_date_kept_between_a_minute_and_a_day(header, delay):
    assert ca.retry_after_delay(header, ISSUED) == delay


@pytest.mark.parametrize("document", [{}, {"suggestedWindow": {"start": "x", "end": "y"}}, [],
                                      {"suggestedWindow": {"start": "2027-04-22T00:00:00Z", "end": "2027-04-20T00:00:00Z"}}])
def test_an_unreadable_answer_is_no_information(document):
    with pytest.raises(ca.CaUnavailable):
        ca.parse_renewal_info("id", document, None, ISSUED)


# --- the moment: once, inside the window, never after 2/3 of the lifetime --------------------------

def test_the_moment_is_chosen_inside_the_window_and_kept_while_the_window_stays():
    cert = certificate(90)
    start, end = ISSUED + 50 * DAY, ISSUED + 52 * DAY
    first = ca.updated(None, answer(cert, start, end), cert.renewal_due_at(), random.Random(1))
    assert start <= first.renew_at <= end
    again = ca.updated(first, answer(cert, start, end, checked=ISSUED + DAY), cert.renewal_due_at(), random.Random(2))
    assert again.renew_at == first.renew_at and again.checked_at == ISSUED + DAY
    moved = ca.updated(first, answer(cert, ISSUED - 2 * DAY, ISSUED - DAY), cert.renewal_due_at(), random.Random(3))
    assert ISSUED - 2 * DAY <= moved.renew_at <= ISSUED - DAY


def test_moments_spread_over_the_window():
    cert = certificate(90)
    start, end = ISSUED + 50 * DAY, ISSUED + 52 * DAY
    moments = {ca.updated(None, answer(cert, start, end), cert.renewal_due_at()).renew_at for _ in range(20)}
    assert len(moments) > 10


def test_a_window_reaching_past_two_thirds_is_cut_there():
    cert = certificate(6)  # Pebble's default window: NotAfter - lifetime/3 +- 24 h
    latest = cert.renewal_due_at()
    for seed in range(50):
        moment = ca.choose_moment(latest - DAY, latest + DAY, latest, random.Random(seed))
        assert latest - DAY <= moment <= latest
    assert ca.choose_moment(latest + DAY, latest + 2 * DAY, latest) == latest


# --- the decision for 90/64/45/6-day certificates ----------------------------------------------------

def windows(cert: CertificateInfo) -> dict[str, tuple[datetime, datetime] | None]:
    third = cert.lifetime / 3
    return {
        "no ARI": None,
        "centred on 2/3 (Pebble)": (cert.not_after - third - DAY, cert.not_after - third + DAY),
        "late (after 2/3)": (cert.not_after - third / 2, cert.not_after - third / 4),
        "early": (cert.not_before + third, cert.not_before + third + HOUR),
        "in the past (incident)": (cert.not_before - 2 * DAY, cert.not_before - DAY),
    }


def first_daily_run_that_renews(cert: CertificateInfo, info: RenewalInfo | None, hour_offset: timedelta) -> datetime:
    run = cert.not_before + hour_offset
    while not renew.decide(NAME, cert, run, force=False, info=info).due:
        run += DAY
        assert run < cert.not_after + 2 * DAY, "never due"
    return run


@pytest.mark.parametrize("lifetime", LIFETIMES)
def test_renewal_comes_a_third_of_the_lifetime_before_expiry_and_daily_runs_get_two_attempts(lifetime):
    cert = certificate(lifetime)
    for label, window in windows(cert).items():
        info = None if window is None else ca.updated(None, answer(cert, *window), cert.renewal_due_at(),
                                                      random.Random(lifetime))
        scheduled = renewal.plan(cert, info)
        assert scheduled.due_at <= cert.not_after - cert.lifetime / 3, label
        for minutes in range(0, 24 * 60, 97):
            run = first_daily_run_that_renews(cert, info, timedelta(minutes=minutes))
            assert run >= scheduled.due_at, label
            assert run + DAY < cert.not_after, f"{label}: the second daily attempt comes after expiry"


@pytest.mark.parametrize("lifetime", LIFETIMES)
def test_with_a_window_before_two_thirds_the_ca_decides(lifetime):
    cert = certificate(lifetime)
    start, end = windows(cert)["early"]
    info = ca.updated(None, answer(cert, start, end), cert.renewal_due_at())
    assert not renew.decide(NAME, cert, start - timedelta(seconds=1), False, info).due
    decision = renew.decide(NAME, cert, end, False, info)
    assert decision.due and "(the CA's renewal window (ARI))" in decision.reason
    assert renewal.plan(cert, info).rule == renewal.ARI


def test_a_past_window_is_due_at_once_and_names_the_explanation():
    cert = certificate(90)
    info = ca.updated(None, answer(cert, ISSUED - 2 * DAY, ISSUED - DAY, "https://ca.example/incident"),
                      cert.renewal_due_at())
    decision = renew.decide(NAME, cert, ISSUED + HOUR, False, info)
    assert decision.due
    assert decision.reason.endswith("the CA asks for early replacement: https://ca.example/incident")
    assert info.early(ISSUED + HOUR)


def test_the_window_of_another_certificate_is_ignored():
    old = certificate(90, serial=1)
    info = ca.updated(None, answer(old, ISSUED - 2 * DAY, ISSUED - DAY), old.renewal_due_at())
    renewed = certificate(90, serial=2)
    assert renewal.plan(renewed, info).rule == renewal.LIFETIME
    assert not renew.decide(NAME, renewed, ISSUED + HOUR, False, info).due


# --- asking the CA: Retry-After honoured, an unreachable CA changes nothing ----------------------------

@pytest.fixture
def settings(tmp_path):
    return Settings(paths=Paths.from_root(tmp_path), acme_server="https://ca.example/dir")


def test_the_ca_is_asked_again_only_after_retry_after(settings, monkeypatch):
    cert = certificate(90)
    asked: list[datetime] = []

    def fake(_url, certificate_info, now, _bundle=None):
        asked.append(now)
        return answer(certificate_info, ISSUED + 60 * DAY, ISSUED + 61 * DAY, checked=now)

    monkeypatch.setattr(ca, "renewal_info", fake)
    record = common.refresh_renewal_info(settings, state_store.State(), NAME, cert, ISSUED)
    chosen = record.renewal_info[NAME].renew_at
    record = common.refresh_renewal_info(settings, record, NAME, cert, ISSUED + 5 * HOUR)
    assert asked == [ISSUED]
    record = common.refresh_renewal_info(settings, record, NAME, cert, ISSUED + 7 * HOUR)
    assert asked == [ISSUED, ISSUED + 7 * HOUR]
    assert record.renewal_info[NAME].renew_at == chosen  # same window: the same moment


def test_an_unreachable_ca_keeps_what_was_known_or_leaves_the_lifetime_rule(settings, monkeypatch):
    cert = certificate(90)

    def unreachable(*_args, **_kwargs):
        raise ca.CaUnavailable("https://ca.example/dir could not be reached (connection refused)")

    monkeypatch.setattr(ca, "renewal_info", unreachable)
    empty = common.refresh_renewal_info(settings, state_store.State(), NAME, cert, ISSUED)
    assert empty.renewal_info == {}
    assert renewal.plan(cert, empty.renewal_info.get(NAME)).due_at == ISSUED + 60 * DAY

    known = ca.updated(None, answer(cert, ISSUED + 50 * DAY, ISSUED + 51 * DAY), cert.renewal_due_at())
    record = state_store.with_renewal_info(state_store.State(), NAME, known)
    assert common.refresh_renewal_info(settings, record, NAME, cert, ISSUED + DAY) == record


def test_renewal_info_survives_the_state_file(tmp_path):
    cert = certificate(6)
    info = ca.updated(None, answer(cert, ISSUED + 3 * DAY, ISSUED + 5 * DAY, "https://ca.example/x"),
                      cert.renewal_due_at())
    record = state_store.with_profile(state_store.with_renewal_info(state_store.State(), NAME, info), NAME,
                                      "shortlived")
    path = tmp_path / "state.json"
    state_store.save_state(path, record, ISSUED)
    loaded = state_store.load_state(path)
    assert loaded.renewal_info == {NAME: info} and loaded.profiles == {NAME: "shortlived"}
    assert state_store.with_profile(loaded, NAME, None).profiles == {}


def test_the_cron_line_names_an_early_replacement():
    result = renew.RenewResult((renew.RenewedName(NAME, Outcome.RENEWED, None,
                                                  "the CA asked for early replacement: https://ca.example/x"),))
    assert report.renew_cron_line(result) == (f"ispa-cert renew: renewed: {NAME}; {NAME}: the CA asked for early "
                                              "replacement: https://ca.example/x")


# --- doctor and status show it --------------------------------------------------------------------------

from ispa_acmewrap import health  # noqa: E402
from ispa_acmewrap.actions import issue, served, status  # noqa: E402
from ispa_acmewrap.errors import BadInput  # noqa: E402


def test_doctor_shows_the_window_and_warns_while_the_ca_asks_for_early_replacement():
    cert = certificate(6)
    info = ca.updated(None, answer(cert, ISSUED + 3 * DAY, ISSUED + 5 * DAY), cert.renewal_due_at(),
                      random.Random(4))
    fine = health.renewal_info_finding(NAME, "shortlived", cert, renewal.plan(cert, info), ISSUED + DAY)
    assert fine.severity is health.Severity.OK
    assert fine.message.startswith("profile shortlived, 6 days; the CA's window 2027-03-04 05:00 UTC to "
                                   "2027-03-06 05:00 UTC; renewal at 2027-03-0")
    incident = ca.updated(None, answer(cert, ISSUED - 2 * DAY, ISSUED - DAY, "https://ca.example/x"),
                          cert.renewal_due_at())
    warned = health.renewal_info_finding(NAME, None, cert, renewal.plan(cert, incident), ISSUED + DAY)
    assert warned.severity is health.Severity.WARN
    assert "replaced early: https://ca.example/x" in warned.message and warned.fix.startswith("ispa-cert renew")
    none = health.renewal_info_finding(NAME, None, cert, renewal.plan(cert, None), ISSUED + DAY)
    assert none.message == ("profile the CA default, 6 days; no ARI (the CA's renewal window is not known): "
                            "renewal at 2027-03-05 05:00 UTC, 2/3 of the lifetime")


@pytest.mark.parametrize("days, critical", [(90, 7), (45, 7), (6, 1)])
def test_a_fresh_short_certificate_is_not_critical(days, critical):
    cert = certificate(days)
    assert health.critical_days(cert) == critical
    fresh = health.certificate_finding(NAME, "admin", cert, True, ISSUED + HOUR)
    assert fresh.severity is health.Severity.OK


def test_status_shows_profile_lifetime_window_and_moment_and_warns_of_early_replacement(tmp_path):
    cert = certificate(6)
    info = ca.updated(None, answer(cert, ISSUED - 2 * DAY, ISSUED - DAY, "https://ca.example/x"), cert.renewal_due_at())
    row = served.CertificateRow(NAME, "admin", tmp_path / "cert.pem", True, cert, profile="shortlived",
                                renewal=renewal.plan(cert, info))
    result = status.StatusResult((row,), ISSUED + HOUR, 443)
    text = report.status_table(result, wide=True)
    line = next(line for line in text.splitlines() if line.startswith(NAME))
    assert " shortlived " in line and " 6 days " in line and "2027-02-27 05:00 to 2027-02-28 05:00" in line
    narrow = report.status_table(result)
    table_lines = narrow.split("WARNING")[0].splitlines()  # the notes below are wrapped on a terminal only
    assert table_lines and max(len(line) for line in table_lines) <= 100
    line = next(line for line in narrow.splitlines() if line.startswith(NAME))
    words = line.split()  # the renewal moment is chosen at random inside the window: either of its days
    assert words[:6] + words[7:] == [NAME, "admin", "ECDSA", "P-256", "2027-03-07", "5", "not", "checked"]
    assert words[6] in ("2027-02-27", "2027-02-28")
    assert "status --wide" in narrow
    assert f"WARNING {NAME}: the CA asks for this certificate to be replaced early: https://ca.example/x" in text
    entry = report.status_document(result)["certificates"][0]
    assert (entry["profile"], entry["lifetime_days"], entry["renewal_rule"], entry["early_replacement"]) == \
        ("shortlived", 6, "ari", True)
    assert entry["ari"]["explanation_url"] == "https://ca.example/x" and entry["renewal_due"] is True


def test_a_profile_the_ca_does_not_offer_is_refused_listing_the_offered_ones(settings, monkeypatch):
    offered = {"meta": {"profiles": {"classic": "90 days", "shortlived": "6 days"}}}
    monkeypatch.setattr(ca, "directory", lambda url, bundle=None, timeout=None: offered)
    issue.check_profile(settings, "shortlived")
    issue.check_profile(settings, None)
    with pytest.raises(BadInput) as refused:
        issue.check_profile(settings, "tlsserver")
    assert refused.value.message == ("the CA https://ca.example/dir offers no profile 'tlsserver'; it offers: "
                                     "classic (90 days); shortlived (6 days)")
    assert refused.value.exit_code == 2
    monkeypatch.setattr(ca, "directory", lambda url, bundle=None, timeout=None: {"meta": {}})
    with pytest.raises(BadInput, match="offers no certificate profiles"):
        issue.check_profile(settings, "classic")


def test_a_ca_out_of_reach_is_asked_once_per_run(monkeypatch):
    calls: list[str] = []

    def refused(url, _bundle, _timeout):
        calls.append(url)
        raise ca.CaUnavailable(f"{url} could not be reached (connection refused)")

    monkeypatch.setattr(ca, "_get", refused)
    monkeypatch.setattr(ca, "_directories", {})
    for _ in range(3):
        with pytest.raises(ca.CaUnavailable, match="connection refused"):
            ca.renewal_info("https://ca.invalid/dir", certificate(90), ISSUED)
    assert calls == ["https://ca.invalid/dir"]
