"""outcomes: the questions the commands ask of an Outcome, and that it stays the word it always was."""

from __future__ import annotations

import json

from ispa_acmewrap.outcomes import Account, Outcome


def test_each_question_has_its_outcomes() -> None:
    assert {o for o in Outcome if o.got_certificate} == {Outcome.ISSUED, Outcome.RENEWED}
    assert {o for o in Outcome if o.has_certificate} == {Outcome.ISSUED, Outcome.KEPT}
    assert {o for o in Outcome if o.counts_at_ca} == {Outcome.FAILED, Outcome.RATE_LIMITED}
    assert {o for o in Outcome if o.is_held} == {Outcome.RATE_LIMITED, Outcome.BLOCKED}
    assert {o for o in Outcome if o.is_failure} == {Outcome.FAILED, Outcome.ERROR, Outcome.RATE_LIMITED,
                                                   Outcome.BLOCKED}
    assert not any(o.is_failure for o in Outcome if o.has_certificate or o.got_certificate)
    assert not Outcome.NOT_DUE.is_failure and not Outcome.NOT_DUE.got_certificate


def test_outcomes_print_and_serialise_as_their_words() -> None:
    assert [str(o) for o in Outcome] == ["issued", "kept", "renewed", "not due", "failed", "error", "rate-limited",
                                         "blocked"]
    assert f"{Outcome.RATE_LIMITED}" == "rate-limited" and Outcome("not due") is Outcome.NOT_DUE
    assert json.dumps({"outcome": Outcome.KEPT, "account": Account.NEW}) == '{"outcome": "kept", "account": "new"}'
