"""The words a command's result is told in, and the questions the code asks of them.

Outcome: what became of one name in `issue` or `renew`. Account: what `repair` did with the
ACME account. StrEnums: the values are the words the summaries, `--json` and the log have
always shown, so each compares and prints as its word.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ISSUED = "issued"  # a new certificate (issue)
    KEPT = "kept"  # the current one is still valid: acme.sh skipped it (issue)
    RENEWED = "renewed"  # a new certificate (renew)
    NOT_DUE = "not due"  # not renewed: not due yet (renew)
    FAILED = "failed"  # a validation failed (the self-test, or at the CA)
    ERROR = "error"  # anything else went wrong (CA unreachable, local trouble)
    RATE_LIMITED = "rate-limited"  # the CA refuses the name for now
    BLOCKED = "blocked"  # not sent to the CA: the failure ledger says it would refuse (renew)

    @property
    def got_certificate(self) -> bool:
        """A new certificate came from the CA: an issuance the CA counts."""
        return self in (Outcome.ISSUED, Outcome.RENEWED)

    @property
    def has_certificate(self) -> bool:
        """`issue` has a valid certificate to install for the name (new or kept)."""
        return self in (Outcome.ISSUED, Outcome.KEPT)

    @property
    def is_failure(self) -> bool:
        """The name did not get what was asked for: the command fails (exit 1, or 4 when waiting cures it)."""
        return self in (Outcome.FAILED, Outcome.ERROR, Outcome.RATE_LIMITED, Outcome.BLOCKED)

    @property
    def counts_at_ca(self) -> bool:
        """The CA counted it against the name (a failed validation, its own rate-limit refusal):
        it goes into the failure ledger."""
        return self in (Outcome.FAILED, Outcome.RATE_LIMITED)

    @property
    def is_held(self) -> bool:
        """Refused for now (by the CA, or by ispa-cert's guard): waiting is the cure (exit 4)."""
        return self in (Outcome.RATE_LIMITED, Outcome.BLOCKED)


class Account(StrEnum):
    """What `repair` did with the ACME account when it installed acme.sh afresh."""

    KEPT = "kept"  # put back: the same key and registration
    NEW = "new"  # --new-account: acme.sh registers a new one at the next issuance
    NONE = "none"  # there was none to keep
