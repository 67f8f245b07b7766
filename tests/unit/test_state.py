"""state: the file (atomic, private, readable errors) and the rate-limit bookkeeping."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ispa_acmewrap.errors import PreconditionMissing
from ispa_acmewrap.state import (
    Issuance,
    State,
    blocked_until,
    failures_in_last_hour,
    issuances_in_window,
    load_state,
    record_failure,
    record_issuance,
    record_renewal,
    save_state,
    with_role,
)
from tests.factories import NAME

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def failed_at(*moments: datetime, name: str = NAME) -> State:
    state = State()
    for moment in moments:
        state = record_failure(state, name, moment)
    return state


def issued_at(*entries: tuple[tuple[str, ...], datetime]) -> State:
    state = State()
    for names, moment in entries:
        state = record_issuance(state, names, "issue", moment)
    return state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the file -------------------------------------------------------------------
def test_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "state.json") == State()


def test_round_trip(tmp_path: Path) -> None:
    state = with_role(with_role(State(), "admin", NAME), "client", "klient.example.net")
    state = record_failure(state, NAME, NOW - minutes(5))
    state = record_issuance(state, [NAME], "issue", NOW - timedelta(days=2))
    state = record_renewal(state, NOW)
    path = tmp_path / "ispa-cert" / "state.json"
    save_state(path, state, now=NOW)
    assert load_state(path) == state


def test_file_is_private_and_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ispa-cert" / "state.json"
    save_state(path, with_role(State(), "admin", NAME), now=NOW)
    save_state(path, with_role(State(), "admin", "other.example.net"), now=NOW)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary files left
    assert load_state(path).roles == {"admin": "other.example.net"}


def test_documented_json_layout(tmp_path: Path) -> None:
    state = record_failure(with_role(State(), "admin", NAME), NAME, NOW)
    state = record_renewal(record_issuance(state, [NAME, "www." + NAME], "renew", NOW), NOW)
    path = tmp_path / "state.json"
    save_state(path, state, now=NOW)
    assert json.loads(path.read_text()) == {
        "version": 1,
        "roles": {"admin": NAME},
        "failures": {NAME: ["2026-03-01T12:00:00Z"]},
        "issuances": [{"names": [NAME, "www." + NAME], "at": "2026-03-01T12:00:00Z", "kind": "renew"}],
        "last_renewal": "2026-03-01T12:00:00Z",
        "profiles": {},
        "renewal_info": {},
    }


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 99}',
        '{"version": 1, "failures": {"isp.example.net": ["yesterday"]}}',
        '{"version": 1, "issuances": [{"names": ["a.example.net"]}]}',
    ],
)
def test_damaged_file_names_the_file_and_the_fix(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(PreconditionMissing, match=str(path)) as caught:
        load_state(path)
    assert "move it aside" in caught.value.hint


def test_save_drops_failures_older_than_a_day(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, failed_at(NOW - timedelta(hours=30), NOW - minutes(1)), now=NOW)
    assert load_state(path).failures == {NAME: (NOW - minutes(1),)}
    save_state(path, load_state(path), now=NOW + timedelta(days=2))
    assert load_state(path).failures == {}


# --- roles and renewals ---------------------------------------------------------
def test_with_role_replaces_only_that_role() -> None:
    state = with_role(with_role(State(), "admin", "a.example.net"), "dealer", "d.example.net")
    assert with_role(state, "admin", NAME).roles == {"admin": NAME, "dealer": "d.example.net"}
    assert state.roles["admin"] == "a.example.net"  # the original is unchanged


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError):
        with_role(State(), "root", NAME)


def test_record_renewal() -> None:
    assert State().last_renewal is None
    assert record_renewal(State(), NOW).last_renewal == NOW


# --- failure ledger: 5 failed validations per hostname and hour -----------------------
def test_five_failures_in_an_hour_block_until_the_fifth_most_recent_is_an_hour_old() -> None:
    state = failed_at(*(NOW - minutes(m) for m in (50, 40, 30, 20, 10)))
    assert failures_in_last_hour(state, NAME, NOW) == 5
    assert blocked_until(state, NAME, NOW) == NOW + minutes(10)
    assert blocked_until(state, NAME, NOW + minutes(10) - timedelta(seconds=1)) == NOW + minutes(10)
    assert blocked_until(state, NAME, NOW + minutes(10)) is None


def test_with_six_failures_the_fifth_most_recent_decides() -> None:
    state = failed_at(*(NOW - minutes(m) for m in (55, 50, 40, 30, 20, 10)))
    assert failures_in_last_hour(state, NAME, NOW) == 6
    assert blocked_until(state, NAME, NOW) == NOW + minutes(10)  # 50 minutes ago + 1 hour
    assert failures_in_last_hour(state, NAME, NOW + minutes(10)) == 4


def test_four_failures_do_not_block() -> None:
    state = failed_at(*(NOW - minutes(m) for m in (40, 30, 20, 10)))
    assert failures_in_last_hour(state, NAME, NOW) == 4
    assert blocked_until(state, NAME, NOW) is None


def test_failures_older_than_an_hour_do_not_count() -> None:
    state = failed_at(*(NOW - minutes(m) for m in (61, 70, 90, 20, 10)))
    assert failures_in_last_hour(state, NAME, NOW) == 2
    assert blocked_until(state, NAME, NOW) is None


def test_failures_are_counted_per_hostname() -> None:
    state = failed_at(*(NOW - minutes(m) for m in (5, 4, 3, 2, 1)), name="other.example.net")
    assert failures_in_last_hour(state, NAME, NOW) == 0
    assert blocked_until(state, "OTHER.example.net.", NOW) == NOW + minutes(55)


def test_recording_drops_failures_older_than_a_day() -> None:
    state = failed_at(NOW - timedelta(days=2), NOW - timedelta(hours=2), NOW)
    assert state.failures == {NAME: (NOW - timedelta(hours=2), NOW)}


def test_recorded_times_are_utc_whole_seconds() -> None:
    local = datetime(2026, 3, 1, 13, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert failed_at(local).failures[NAME] == (NOW,)


# --- issuance history: 5 certificates per exact set of names and 7 days -----------------
def test_issuances_count_the_same_set_of_names_in_any_order() -> None:
    state = issued_at(
        ((NAME, "www." + NAME), NOW - timedelta(days=1)),
        (("www." + NAME, NAME), NOW - timedelta(days=2)),
        ((NAME,), NOW - timedelta(days=1)),
        ((NAME, "www." + NAME, "mail." + NAME), NOW - timedelta(days=1)),
    )
    assert issuances_in_window(state, ["www." + NAME, NAME], NOW) == 2
    assert issuances_in_window(state, [NAME], NOW) == 1


def test_issuances_count_only_inside_the_window() -> None:
    state = issued_at(*(((NAME,), NOW - timedelta(days=d)) for d in (1, 3, 6.9, 7.1, 30)))
    assert issuances_in_window(state, [NAME], NOW) == 3
    assert issuances_in_window(state, [NAME], NOW, days=31) == 5
    assert issuances_in_window(state, [NAME], NOW + timedelta(days=10)) == 0


def test_issuance_records_kind_and_time() -> None:
    state = record_issuance(State(), [NAME], "reissue", NOW)
    assert state.issuances == (Issuance((NAME,), NOW, "reissue"),)
    with pytest.raises(ValueError):
        record_issuance(State(), [NAME], "steal", NOW)


# A state.json as ispa-cert wrote it before issuance kinds were an Enum: every key, plain strings.
WRITTEN_BEFORE = """{
  "adopted": [
    "webmail.example.net"
  ],
  "docroots": {
    "dealer": "/srv/dealer-portal"
  },
  "failures": {
    "isp.example.net": [
      "2026-03-01T11:30:00Z"
    ]
  },
  "issuances": [
    {
      "at": "2026-02-20T05:13:00Z",
      "kind": "issue",
      "names": [
        "isp.example.net"
      ]
    },
    {
      "at": "2026-02-27T05:13:00Z",
      "kind": "renew",
      "names": [
        "isp.example.net"
      ]
    },
    {
      "at": "2026-02-28T05:13:00Z",
      "kind": "reissue",
      "names": [
        "isp.example.net"
      ]
    }
  ],
  "last_renewal": "2026-02-27T05:13:40Z",
  "profiles": {
    "isp.example.net": "shortlived"
  },
  "renewal_info": {},
  "roles": {
    "admin": "isp.example.net",
    "dealer": "dealer.example.net"
  },
  "tls": {
    "hsts": false,
    "profile": "intermediate"
  },
  "version": 1
}
"""


def test_a_state_file_written_before_reads_and_is_written_back_unchanged(tmp_path: Path) -> None:
    from ispa_acmewrap.state import IssuanceKind

    path = tmp_path / "state.json"
    path.write_text(WRITTEN_BEFORE)
    state = load_state(path)
    assert [issuance.kind for issuance in state.issuances] == [IssuanceKind.ISSUE, IssuanceKind.RENEW,
                                                                IssuanceKind.REISSUE]
    assert [issuance.kind for issuance in state.issuances] == ["issue", "renew", "reissue"]  # still the words
    assert issuances_in_window(state, [NAME], NOW) == 2  # the issue of 20 February is out of the week
    save_state(path, state, NOW)
    assert path.read_text() == WRITTEN_BEFORE


def test_an_unknown_issuance_kind_in_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(WRITTEN_BEFORE.replace('"kind": "renew"', '"kind": "steal"'))
    with pytest.raises(PreconditionMissing, match="unknown issuance kind 'steal'"):
        load_state(path)
