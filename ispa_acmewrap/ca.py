"""What the CA publishes without an account: its directory (the profiles it offers, where its
renewal information lives) and ACME Renewal Information (ARI, RFC 9773).

ARI: the CA suggests, per certificate, a window in which to renew it. The client picks a moment
at random inside the window once and keeps it while the window stays the same (§4.2), renews when
that moment has passed, and asks again no sooner than the CA's Retry-After (§4.3). The CA moves a
window into the past when a certificate must be replaced early (e.g. a mass revocation) and may
link an explanation. The certificate is named by its certID (§4.1):
base64url(Authority Key Identifier keyIdentifier) "." base64url(DER bytes of the serial number).

Plain HTTPS GETs with a short timeout; a CA that cannot be reached raises CaUnavailable, which
callers treat as "no new information" — renewal never depends on the CA being up. Nothing here
runs a process or prints.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from .certs import CertificateInfo
from .i18n import _

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
DEFAULT_RETRY_AFTER = timedelta(hours=6)  # when the CA sends none (Let's Encrypt sends 6 h)
MIN_RETRY_AFTER = timedelta(minutes=1)
MAX_RETRY_AFTER = timedelta(days=1)  # ask at least daily, whatever the CA says
NO_ARI_RECHECK = timedelta(days=1)


class CaUnavailable(Exception):
    """The CA could not be asked (unreachable, TLS, HTTP error, not JSON): the reason as text."""


@dataclass(frozen=True)
class RenewalInfo:
    """What ispa-cert keeps of the CA's answer for one certificate (state.json `renewal_info`).

    window_start/window_end are None when the CA offers no ARI. renew_at is the moment chosen
    once inside the window (never later than 2/3 of the lifetime, see choose_moment).
    """

    cert_id: str
    checked_at: datetime
    next_check: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    explanation_url: str | None = None
    renew_at: datetime | None = None

    @property
    def has_window(self) -> bool:
        return self.window_start is not None and self.window_end is not None

    def early(self, now: datetime) -> bool:
        """The CA asks for this certificate to be replaced now: its window is in the past or it explains why."""
        return self.has_window and (bool(self.explanation_url) or self.window_end <= now)


# --- certID (RFC 9773 §4.1) ------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def serial_der_bytes(serial: int) -> bytes:
    """The content octets of the DER INTEGER: big-endian, with a 0x00 first when the high bit is set."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def cert_id(certificate: CertificateInfo) -> str | None:
    """The certificate's ARI certID; None when it has no Authority Key Identifier."""
    if not certificate.authority_key_id:
        return None
    return f"{_b64url(certificate.authority_key_id)}.{_b64url(serial_der_bytes(certificate.serial))}"


# --- the moment (RFC 9773 §4.2), capped by the lifetime rule ------------------------------------

def choose_moment(start: datetime, end: datetime, latest: datetime, rng: random.Random | None = None) -> datetime:
    """A moment uniformly at random in [start, min(end, latest)]; `latest` when the window begins later.

    `latest` is 2/3 of the certificate's lifetime: the CA may bring a renewal forward, never push it
    past the point that leaves a third of the lifetime (two daily attempts for 6-day certificates).
    """
    upper = min(end, latest)
    if upper <= start:
        return min(start, latest)
    seconds = (upper - start).total_seconds()
    moment = start + timedelta(seconds=(rng or random.SystemRandom()).uniform(0, seconds))
    return moment.replace(microsecond=0)


def updated(previous: RenewalInfo | None, answer: RenewalInfo, latest: datetime,
            rng: random.Random | None = None) -> RenewalInfo:
    """The answer with its moment: kept from `previous` while the window is the same, else chosen anew."""
    if not answer.has_window:
        return answer
    same = (previous is not None and previous.cert_id == answer.cert_id and previous.renew_at is not None
            and (previous.window_start, previous.window_end) == (answer.window_start, answer.window_end))
    moment = previous.renew_at if same else choose_moment(answer.window_start, answer.window_end, latest, rng)
    return RenewalInfo(answer.cert_id, answer.checked_at, answer.next_check, answer.window_start, answer.window_end,
                       answer.explanation_url, moment)


# --- HTTP ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The CA's TLS, verified against the system's CA store (or the bundle given), built once per run:
    reading the system's store costs ~60 ms, and every renewal-info lookup makes two requests."""
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)


def _get(url: str, ca_bundle: Path | None, timeout: float) -> tuple[Any, str | None]:
    """GET url as JSON; returns (document, Retry-After header)."""
    import urllib.error, urllib.request  # here, not at the top: status never asks the CA
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "ispa-cert"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_context(ca_bundle)) as response:
            body = response.read(1_000_000)
            retry_after = response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        raise CaUnavailable(_("{url} answered HTTP {status}").format(url=url, status=error.code)) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CaUnavailable(_("{url} could not be reached ({reason})").format(url=url, reason=reason)) from error
    try:
        return json.loads(body), retry_after
    except ValueError as error:
        raise CaUnavailable(_("{url} did not answer with JSON").format(url=url)) from error


_directories: dict[tuple[str, str | None], dict[str, Any] | CaUnavailable] = {}


def directory(url: str, ca_bundle: Path | None = None, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """The CA's ACME directory, read once per run (a CA out of reach is not asked again in the run)."""
    key = (url, str(ca_bundle) if ca_bundle else None)
    if key not in _directories:
        try:
            document, _retry_after = _get(url, ca_bundle, timeout)
            if not isinstance(document, dict):
                raise CaUnavailable(_("{url} is not an ACME directory").format(url=url))
            _directories[key] = document
        except CaUnavailable as error:
            _directories[key] = error
    known = _directories[key]
    if isinstance(known, CaUnavailable):
        raise CaUnavailable(*known.args)
    return known


def profiles(document: dict[str, Any]) -> dict[str, str]:
    """The certificate profiles the directory offers: name -> description (empty when none)."""
    offered = (document.get("meta") or {}).get("profiles") or {}
    return {str(name): str(text) for name, text in offered.items()} if isinstance(offered, dict) else {}


def renewal_info(directory_url: str, certificate: CertificateInfo, now: datetime, ca_bundle: Path | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> RenewalInfo | None:
    """The CA's current answer for a certificate (without a chosen moment); None without an AKI.

    A CA without `renewalInfo` gives a RenewalInfo without a window. Raises CaUnavailable.
    """
    identifier = cert_id(certificate)
    if identifier is None:
        return None
    base = directory(directory_url, ca_bundle, timeout).get("renewalInfo")
    if not base:
        return RenewalInfo(identifier, now, now + NO_ARI_RECHECK)
    document, retry_after = _get(f"{str(base).rstrip('/')}/{identifier}", ca_bundle, timeout)
    return parse_renewal_info(identifier, document, retry_after, now)


def parse_renewal_info(identifier: str, document: Any, retry_after: str | None, now: datetime) -> RenewalInfo:
    """RFC 9773 §4.2's response: {"suggestedWindow": {"start", "end"}, "explanationURL"}."""
    try:
        window = document["suggestedWindow"]
        start, end = _timestamp(window["start"]), _timestamp(window["end"])
    except (KeyError, TypeError, ValueError) as error:
        raise CaUnavailable(_("the CA's renewal information is not readable ({error})").format(error=repr(error))) from error
    if end <= start:
        raise CaUnavailable(_("the CA's suggested window ends ({end}) before it starts ({start})").format(
            end=end, start=start))
    explanation = document.get("explanationURL")
    return RenewalInfo(identifier, now, now + retry_after_delay(retry_after, now), start, end,
                       str(explanation) if explanation else None)


def retry_after_delay(header: str | None, now: datetime) -> timedelta:
    """Retry-After as seconds or an HTTP date, kept between a minute and a day."""
    delay = DEFAULT_RETRY_AFTER
    if header:
        text = header.strip()
        try:
            delay = timedelta(seconds=int(text)) if text.isdigit() else parsedate_to_datetime(text) - now
        except (TypeError, ValueError, OverflowError):
            delay = DEFAULT_RETRY_AFTER
    return min(max(delay, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def _timestamp(text: str) -> datetime:
    """RFC 3339 as ARI sends it (Z, optional fractions of a second, possibly nanoseconds)."""
    value = str(text).strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in value:
        whole, _separator, rest = value.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{whole}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(timezone.utc)
