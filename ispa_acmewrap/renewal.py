"""When a certificate is to be renewed: the one rule `renew`, `status` and `doctor` share.

- With the CA's renewal information (ARI) for this very certificate: at the moment chosen at
  random inside the CA's suggested window (ca.choose_moment) — a window in the past means now.
- Without it (the CA offers no ARI, has not been asked yet, or could not be reached): when 2/3
  of the certificate's own lifetime has passed.
- Never later than that 2/3 point: the last third of the lifetime always remains for retries, so
  a daily run has two attempts even for 6-day certificates.

Pure: no clock, no network, no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .ca import RenewalInfo, cert_id
from .certs import CertificateInfo
from .i18n import _

ARI = "ari"
LIFETIME = "lifetime"


@dataclass(frozen=True)
class RenewalPlan:
    due_at: datetime
    rule: str  # ARI or LIFETIME: what decided due_at
    info: RenewalInfo | None  # the CA's renewal information of this certificate, if known

    def is_due(self, now: datetime) -> bool:
        return now >= self.due_at

    @property
    def rule_text(self) -> str:
        return _("the CA's renewal window (ARI)") if self.rule == ARI else _("2/3 of its lifetime")


def current_info(certificate: CertificateInfo, info: RenewalInfo | None) -> RenewalInfo | None:
    """info when it belongs to this certificate (a renewed one has another certID)."""
    if info is None or info.cert_id != cert_id(certificate):
        return None
    return info


def plan(certificate: CertificateInfo, info: RenewalInfo | None = None) -> RenewalPlan:
    latest = certificate.renewal_due_at()
    own = current_info(certificate, info)
    if own is not None and own.has_window and own.renew_at is not None and own.renew_at <= latest:
        return RenewalPlan(own.renew_at, ARI, own)
    return RenewalPlan(latest, LIFETIME, own)
