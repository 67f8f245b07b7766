"""ispa-cert's own small state: names on record, failure ledger, issuance history.

Stored as JSON at Paths.state_file (ROOT/data/ispadmin_cert/ispa-cert/state.json),
mode 0600 in a 0700 directory, written atomically. Keys are sorted; timestamps are
UTC, ISO 8601 with a `Z`, whole seconds:

    {
      "version": 1,
      "roles": {"admin": "isp.example.net", "client": "klient.example.net"},
      "failures": {"isp.example.net": ["2025-03-02T05:13:07Z", "2025-03-02T05:20:41Z"]},
      "issuances": [
        {"names": ["isp.example.net"], "at": "2025-03-01T05:13:00Z", "kind": "issue"}
      ],
      "last_renewal": "2025-03-02T05:13:40Z",
      "profiles": {"isp.example.net": "shortlived"},
      "renewal_info": {"isp.example.net": {"cert_id": "…", "checked_at": "…", "next_check": "…",
                       "window_start": "…", "window_end": "…", "explanation_url": null, "renew_at": "…"}},
      "tls": {"profile": "intermediate", "hsts": false},
      "adopted": ["webmail.example.net"],
      "docroots": {"dealer": "/srv/dealer-portal"}
    }

- `roles`: the name answered for each role (admin, client, dealer); `issue` asks again
  with these as defaults, `repair --reissue` issues for them.
- `failures`: failed validations per hostname, oldest first; entries older than a day
  are dropped. Let's Encrypt refuses a hostname after 5 failed validations per account,
  hostname and hour, so ispa-cert stops asking for it until the 5th-most-recent failure
  is an hour old.
- `issuances`: every certificate ispa-cert obtained, `kind` one of issue, renew, reissue;
  the CA allows 5 certificates for the same set of names per 7 days.
- `last_renewal`: when `renew` last finished successfully (null before the first time).
- `profiles`: the certificate profile asked for each name (`issue --profile`), used again when it
  is issued anew; renewals keep it through acme.sh's own record.
- `renewal_info`: the CA's renewal window (ARI) per name as last read, with the moment chosen inside
  it and when the CA may be asked again (ca.RenewalInfo); it belongs to the certificate `cert_id`.
- `tls`: the HTTPS vhosts' TLS profile (`issue --tls-profile`; absent: intermediate) and
  whether they send HSTS (`issue --hsts`, only ever together with the port-80 redirect).
- `adopted`: names whose acme.sh certificate ispa-cert renews although no interface uses them
  and Apache does not serve them (`cron install --adopt`, taking over the guide's --renewAll);
  absent when empty.
- `docroots`: the document root the administrator named for a role whose name has no
  port-80 vhost of its own (`--client-docroot` …); its HTTPS (and port-80) vhost serves it.
  It belongs to the role's name in `roles`: recorded together with it once the DNS step
  confirmed the name, dropped when the role gets another name.
- `typed`: names typed for a role in a run stopped at the DNS question (`n`); offered as the
  answer next time, but not on record (nothing renews or checks them); absent when empty.

A missing file is an empty state. Functions here are pure (they take `now` and return
a new State) apart from load_state and save_state.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from .ca import RenewalInfo
from .errors import OperationFailed, PreconditionMissing
from .files import atomic_write, private_directory
from .i18n import _
from .names import ROLES

FORMAT_VERSION = 1


class IssuanceKind(StrEnum):
    """Why a certificate was obtained; the value is the word state.json keeps."""

    ISSUE = "issue"
    RENEW = "renew"
    REISSUE = "reissue"  # `repair --reissue`


FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(hours=1)
FAILURE_MEMORY = timedelta(days=1)
ISSUANCE_LIMIT = 5
ISSUANCE_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Issuance:
    names: tuple[str, ...]
    at: datetime
    kind: IssuanceKind


@dataclass(frozen=True)
class State:
    """Treat as immutable: the functions below return changed copies."""

    roles: Mapping[str, str] = field(default_factory=dict)
    failures: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    issuances: tuple[Issuance, ...] = ()
    last_renewal: datetime | None = None
    profiles: Mapping[str, str] = field(default_factory=dict)
    renewal_info: Mapping[str, RenewalInfo] = field(default_factory=dict)
    tls_profile: str | None = None  # None: never chosen, the default profile applies
    hsts: bool = False
    adopted: tuple[str, ...] = ()
    docroots: Mapping[str, str] = field(default_factory=dict)
    typed: Mapping[str, str] = field(default_factory=dict)


# --- roles and renewals ---------------------------------------------------------
def names_on_record(state: State) -> list[str]:
    """The names on record, in role order (admin, client, dealer)."""
    return [state.roles[role] for role in ROLES if role in state.roles]


def with_docroot(state: State, role: str, directory: str) -> State:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return replace(state, docroots={**state.docroots, role: directory})


def with_role(state: State, role: str, name: str) -> State:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    typed = {other: typed for other, typed in state.typed.items() if other != role}
    # a role's document root belongs to its name: another name never inherits the old name's site
    docroots = {other: directory for other, directory in state.docroots.items()
                if other != role or state.roles.get(role) == name}
    return replace(state, roles={**state.roles, role: name}, typed=typed, docroots=docroots)


def with_typed(state: State, role: str, name: str) -> State:
    """A name typed for a role, not confirmed yet: the next run offers it (see `typed`)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return replace(state, typed={**state.typed, role: name})


def with_tls(state: State, profile: str, hsts: bool) -> State:
    return replace(state, tls_profile=profile, hsts=hsts)


def with_adopted(state: State, names: Iterable[str]) -> State:
    """The names added to those ispa-cert renews without a role (sorted, once each)."""
    return replace(state, adopted=tuple(sorted({*state.adopted, *(_hostname(name) for name in names)})))


def record_renewal(state: State, now: datetime) -> State:
    return replace(state, last_renewal=_recorded(now))


# --- profiles and renewal information ------------------------------------------------
def with_profile(state: State, name: str, profile: str | None) -> State:
    """Remember the profile asked for name (None forgets it: the CA's default)."""
    profiles = {key: value for key, value in state.profiles.items() if key != _hostname(name)}
    return replace(state, profiles={**profiles, **({_hostname(name): profile} if profile else {})})


def with_renewal_info(state: State, name: str, info: RenewalInfo | None) -> State:
    kept = {key: value for key, value in state.renewal_info.items() if key != _hostname(name)}
    return replace(state, renewal_info={**kept, **({_hostname(name): info} if info else {})})


# --- failure ledger (the CA's 5 failed validations per hostname and hour) -----------
def record_failure(state: State, name: str, now: datetime) -> State:
    key = _hostname(name)
    failures = {**state.failures, key: (*state.failures.get(key, ()), _recorded(now))}
    return prune_failures(replace(state, failures=failures), now)


def failures_in_last_hour(state: State, name: str, now: datetime) -> int:
    return len(_recent_failures(state, name, now))


def blocked_until(state: State, name: str, now: datetime) -> datetime | None:
    """When the CA will accept validations for name again, or None if it does now."""
    recent = sorted(_recent_failures(state, name, now), reverse=True)
    if len(recent) < FAILURE_LIMIT:
        return None
    return recent[FAILURE_LIMIT - 1] + FAILURE_WINDOW


def prune_failures(state: State, now: datetime) -> State:
    """Drop failures older than a day, and hostnames left without any."""
    oldest = _utc(now) - FAILURE_MEMORY
    kept = {name: tuple(t for t in times if t > oldest) for name, times in state.failures.items()}
    return replace(state, failures={name: times for name, times in kept.items() if times})


def _recent_failures(state: State, name: str, now: datetime) -> list[datetime]:
    return [t for t in state.failures.get(_hostname(name), ()) if t > _utc(now) - FAILURE_WINDOW]


# --- issuance history (the CA's 5 certificates per set of names and week) -----------
def record_issuance(state: State, names: Iterable[str], kind: IssuanceKind, now: datetime) -> State:
    issuance = Issuance(tuple(_hostname(name) for name in names), _recorded(now), _issuance_kind(kind))
    return replace(state, issuances=(*state.issuances, issuance))


def issuances_in_window(state: State, names: Iterable[str], now: datetime, days: int = ISSUANCE_WINDOW_DAYS) -> int:
    """Certificates issued for exactly this set of names (any order) in the last `days`."""
    wanted = frozenset(_hostname(name) for name in names)
    start = _utc(now) - timedelta(days=days)
    return sum(1 for i in state.issuances if frozenset(i.names) == wanted and i.at > start)


# --- the file -------------------------------------------------------------------
def load_state(path: Path) -> State:
    """The state in path; an empty State when the file does not exist yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as error:
        raise PreconditionMissing(
            _("cannot read the state file {path}: {error}").format(path=path, error=error.strerror or error),
            hint=_("run ispa-cert as root"),
        ) from error
    try:
        return _from_json(json.loads(data.decode("utf-8")))
    except UnicodeDecodeError as error:
        raise _damaged(path, _("not UTF-8 text at byte {offset}").format(offset=error.start)) from error
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise _damaged(path, str(error)) from error


def _damaged(path: Path, reason: str) -> PreconditionMissing:
    return PreconditionMissing(
        _("the state file {path} is damaged ({reason})").format(path=path, reason=reason),
        hint=_("move it aside (mv {path} {path}.broken) and run again: ispa-cert starts a new one, "
               "forgetting the names on record, recent failures and the issuance history").format(path=path),
    )


def save_state(path: Path, state: State, now: datetime | None = None) -> None:
    """Write state atomically (mode 0600), dropping failures older than a day before `now`."""
    pruned = prune_failures(state, now or datetime.now(timezone.utc))
    text = json.dumps(_to_json(pruned), indent=2, sort_keys=True) + "\n"
    try:
        private_directory(path.parent)
        atomic_write(path, text, mode=0o600)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the command line names the full disk, as for every other file
        raise OperationFailed(
            _("cannot write the state file {path}: {error}").format(path=path, error=error.strerror or error),
            hint=_("check free space and permissions of its directory (run as root)"),
        ) from error


# --- JSON mapping ---------------------------------------------------------------
def _to_json(state: State) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "roles": dict(state.roles),
        "failures": {name: [_timestamp(t) for t in sorted(times)] for name, times in state.failures.items()},
        "issuances": [{"names": list(i.names), "at": _timestamp(i.at), "kind": str(i.kind)} for i in state.issuances],
        "last_renewal": _timestamp(state.last_renewal) if state.last_renewal else None,
        "profiles": dict(state.profiles),
        "renewal_info": {name: _renewal_info_json(info) for name, info in state.renewal_info.items()},
        **({"tls": {"profile": state.tls_profile, "hsts": state.hsts}} if state.tls_profile else {}),
        **({"adopted": list(state.adopted)} if state.adopted else {}),
        **({"docroots": dict(state.docroots)} if state.docroots else {}),
        **({"typed": dict(state.typed)} if state.typed else {}),
    }


def _from_json(document: dict[str, Any]) -> State:
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise ValueError(f"format version {version!r}, this ispa-cert reads version {FORMAT_VERSION}")
    last_renewal = document.get("last_renewal")
    return State(
        roles={role: _role_name(role, name) for role, name in document.get("roles", {}).items()},
        failures={name: tuple(_parse(t) for t in times) for name, times in document.get("failures", {}).items()},
        issuances=tuple(_issuance(entry) for entry in document.get("issuances", [])),
        last_renewal=_parse(last_renewal) if last_renewal else None,
        profiles={str(name): str(profile) for name, profile in document.get("profiles", {}).items()},
        renewal_info={str(name): _renewal_info(entry) for name, entry in document.get("renewal_info", {}).items()},
        tls_profile=str(document["tls"]["profile"]) if "tls" in document else None,
        hsts=bool(document["tls"].get("hsts", False)) if "tls" in document else False,
        adopted=tuple(str(name) for name in document.get("adopted", [])),
        docroots={str(role): str(path) for role, path in document.get("docroots", {}).items()},
        typed={role: _role_name(role, name) for role, name in document.get("typed", {}).items()},
    )


_INFO_TIMES = ("checked_at", "next_check", "window_start", "window_end", "renew_at")


def _renewal_info_json(info: RenewalInfo) -> dict[str, Any]:
    times = {key: _timestamp(getattr(info, key)) if getattr(info, key) else None for key in _INFO_TIMES}
    return {"cert_id": info.cert_id, "explanation_url": info.explanation_url, **times}


def _renewal_info(entry: dict[str, Any]) -> RenewalInfo:
    times = {key: _parse(entry[key]) if entry.get(key) else None for key in _INFO_TIMES}
    if times["checked_at"] is None or times["next_check"] is None:
        raise ValueError("a renewal_info entry lacks checked_at or next_check")
    explanation = entry.get("explanation_url")
    return RenewalInfo(cert_id=str(entry["cert_id"]), explanation_url=str(explanation) if explanation else None,
                       **times)


def _role_name(role: Any, name: Any) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} under \"roles\"; expected one of {', '.join(ROLES)}")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"the name of role {role!r} is {json.dumps(name)}, not a domain name")
    return name


def _issuance(entry: dict[str, Any]) -> Issuance:
    return Issuance(tuple(str(name) for name in entry["names"]), _parse(entry["at"]), _issuance_kind(entry["kind"]))


def _issuance_kind(kind: Any) -> IssuanceKind:
    try:
        return IssuanceKind(kind)
    except ValueError:
        raise ValueError(f"unknown issuance kind {kind!r}; expected one of "
                         f"{', '.join(IssuanceKind)}") from None


def _timestamp(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    """The same moment in UTC; a naive datetime is taken as local time."""
    return moment.astimezone(timezone.utc)


def _recorded(moment: datetime) -> datetime:
    """What the file keeps: UTC, whole seconds."""
    return _utc(moment).replace(microsecond=0)


def _hostname(name: str) -> str:
    return name.strip().rstrip(".").lower()
