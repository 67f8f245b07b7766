"""What a failure means: CA faults are named and never counted as failed validations; bad
option values are refused up front; damaged state and backups are named, never used."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from ispa_acmewrap import acme, state as state_store, transaction
from ispa_acmewrap.actions.common import ca_problem_message, failure_outcome, timeout_message
from ispa_acmewrap.errors import BadInput, PreconditionMissing
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.settings import Settings, validate

CURL_REFUSED_LOG = """[Fri Nov 27 16:28:30 UTC 2026] Please refer to https://curl.haxx.se/libcurl/c/libcurl-errors.html for error code: 7
[Fri Nov 27 16:28:30 UTC 2026] ret='7'
[Fri Nov 27 16:28:30 UTC 2026] Cannot init API for: https://ca.example/dir.
"""
GARBAGE_LOG = """[Fri Nov 27 16:30:44 UTC 2026] ret='0'
[Fri Nov 27 16:30:44 UTC 2026] response='<html><body>down</body></html>'
[Fri Nov 27 16:30:44 UTC 2026] ACME_NEW_ORDER
[Fri Nov 27 16:30:44 UTC 2026] ACME_NEW_ACCOUNT
[Fri Nov 27 16:30:44 UTC 2026] ACME_REVOKE_CERT
"""
VALIDATION_OUTPUT = ('[x] admin.example.net: Invalid status, admin.example.net: Verify error detail: '
                     '{"type":"urn:ietf:params:acme:error:connection","detail":"127.0.0.1: Connection refused"}')


@pytest.mark.parametrize(("code", "cause"), [(6, "DNS"), (7, "connection refused"), (28, "timeout"),
                                             (35, "TLS"), (60, "TLS")])
def test_an_unreachable_ca_is_named_by_curls_code_and_not_counted(code, cause):
    failure = acme.explain_failure("Please refer to … for error code: %d" % code,
                                   CURL_REFUSED_LOG.replace("code: 7", f"code: {code}"))
    assert cause in failure.ca_problem
    assert not failure.validation_failed
    assert failure_outcome(failure)[0] == "error"  # record_outcome counts only "failed" and "rate-limited"


def test_a_ca_answering_500_or_garbage_is_an_error_of_the_ca():
    status = acme.explain_failure("Cannot init API", GARBAGE_LOG, "HTTP/1.1 500 Internal Server Error\r\n")
    garbage = acme.explain_failure("Cannot init API", GARBAGE_LOG, "HTTP/1.0 200 OK\r\n")
    assert status.ca_problem == "HTTP 500" and failure_outcome(status)[0] == "error"
    assert garbage.ca_problem == "its answer is not ACME JSON"
    assert acme.explain_failure("x", "[d] ACME_NEW_ACCOUNT='https://ca.example/new-acct'\n").ca_problem is None
    assert ca_problem_message("https://ca.example/dir", "HTTP 500") == \
        "the CA at https://ca.example/dir answered with an error (HTTP 500)"
    assert ca_problem_message("https://ca.example/dir", "connection refused") == \
        "the CA at https://ca.example/dir could not be reached (connection refused)"


def test_a_failed_validation_is_counted():
    failure = acme.explain_failure(VALIDATION_OUTPUT, CURL_REFUSED_LOG)
    assert failure.validation_failed and failure.ca_problem is None
    assert failure_outcome(failure) == ("failed", "127.0.0.1: Connection refused")


ORDER_REFUSED_OUTPUT = (
    "[Fri Nov 27 23:10:55 UTC 2026] Renewing: 'admin.isp.example'\n"
    "[Fri Nov 27 23:10:56 UTC 2026] Error creating new order. Le_OrderFinalize not found. "
    '{"type": "urn:ietf:params:acme:error:unauthorized", "detail": "requester account did not request the '
    'certificate being replaced by this order", "status": 403}\n')


def test_an_order_the_ca_refused_validated_nothing_and_is_not_counted():
    """After `repair --new-account` the CA refuses an order naming a certificate of the old account
    (ARI `replaces`), with the same problem type a failed validation has: it is no failed validation."""
    failure = acme.explain_failure(ORDER_REFUSED_OUTPUT)
    assert failure.order_refused and not failure.validation_failed and not failure.rate_limited
    assert failure_outcome(failure) == ("error", "requester account did not request the certificate being "
                                                 "replaced by this order")
    assert not acme.explain_failure(VALIDATION_OUTPUT, CURL_REFUSED_LOG).order_refused


def test_a_renewal_without_naming_the_replaced_certificate_turns_ari_off_for_that_run(sandbox_paths):
    assert "NO_ARI" not in acme.renew_command(sandbox_paths, "admin.isp.example", force=True).env
    assert acme.renew_command(sandbox_paths, "admin.isp.example", force=True, replaces=False).env["NO_ARI"] == "1"


def test_a_timeout_says_what_acme_sh_saw_until_then():
    assert timeout_message("https://ca.example/dir", 600, CURL_REFUSED_LOG) == (
        "the CA at https://ca.example/dir could not be reached (connection refused); "
        "acme.sh kept retrying and was stopped after 600 s")
    assert timeout_message("https://ca.example/dir", 5, "") == \
        "the CA at https://ca.example/dir did not answer within 5 s; acme.sh was stopped"


SETTINGS = Settings(paths=Paths.from_root(Path("/srv/sandbox")))


@pytest.mark.parametrize("change", [
    {"acme_server": "garbage"}, {"acme_server": "http://ca.example/dir"}, {"acme_server": "https:///dir"},
    {"acme_server": "https://ca.example:port/dir"}, {"server_ips": ("203.0.113.7", "not-an-ip")},
    {"dns_server": "127.0.0.1:99999"}, {"dns_server": "127.0.0.1:0"}, {"dns_server": "resolver.example"},
    {"dns_timeout": -1.0}, {"dns_timeout": 0.0}, {"dns_timeout": math.nan}, {"dns_timeout": math.inf},
])
def test_option_values_that_cannot_work_are_bad_input(change):
    with pytest.raises(BadInput):
        validate(replace(SETTINGS, **change))


@pytest.mark.parametrize("change", [
    {}, {"acme_server": "letsencrypt_test"}, {"acme_server": "https://127.0.0.1:14000/dir"},
    {"server_ips": ("203.0.113.7", "2001:db8::1")}, {"dns_server": "[::1]:5353"}, {"dns_timeout": 0.5},
])
def test_good_option_values_pass(change):
    assert validate(replace(SETTINGS, **change)) == replace(SETTINGS, **change)


@pytest.mark.parametrize(("content", "said"), [
    (b'{"version": 1, "roles": {"admin": "a\xff.example"}}', "not UTF-8 text at byte"),
    (b'{"version": 1, "roles": {"admin": null}}', "the name of role 'admin' is null"),
    (b'{"version": 1, "roles": {"boss": "a.example.net"}}', "unknown role 'boss'"),
])
def test_a_damaged_state_file_is_a_precondition_naming_it(tmp_path, content, said):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(PreconditionMissing) as raised:
        state_store.load_state(path)
    assert said in raised.value.message and str(path) in raised.value.message


def _backup_tree(tmp_path: Path) -> Paths:
    paths = Paths.from_root(tmp_path)
    for backup_id, manifest in (("20250301-050000", None), ("20250302-050000", '{"id": "2025')):
        directory = paths.backups_dir / backup_id
        directory.mkdir(parents=True)
        document = manifest if manifest is not None else json.dumps(
            {"id": backup_id, "created": "2025-03-01T05:00:00+00:00", "reason": "test", "entries": []})
        (directory / "manifest.json").write_text(document)
    return paths


def test_a_damaged_backup_is_skipped_and_named(tmp_path):
    paths = _backup_tree(tmp_path)
    assert [backup.id for backup in transaction.list_backups(paths)] == ["20250301-050000"]
    assert [directory.name for directory, _ in transaction.damaged_backups(paths)] == ["20250302-050000"]
    assert transaction.find_backup(paths, None).id == "20250301-050000"
    with pytest.raises(BadInput, match="backup 20250302-050000 is damaged"):
        transaction.find_backup(paths, "20250302-050000")
    with pytest.raises(BadInput, match="no backup with the id 20990101-000000"):
        transaction.find_backup(paths, "20990101-000000")
