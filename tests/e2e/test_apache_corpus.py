"""`ispa-cert issue` on the corpus of real-world Apache trees (tests/fixtures/apache-trees),
one real stack for all of them, the trees laid over it one after the other.

Each run is either installed correctly (HTTPS serves the certificate on disk and the
same content as HTTP, every other vhost answers as before, configtest is clean) or
refused cleanly (the Apache configuration byte-identical, a message naming the reason).
Never exit 70, never a traceback.
"""

from __future__ import annotations

import difflib
import http.client
import re
import shutil
import socket
import ssl

import pytest

from ispa_acmewrap import certs, transaction
from tests.apache_trees import TreeLayer, cases, fingerprint, substitute
from tests.conftest import ToolRunner
from tests.stack import Stack, make_sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def corpus_stack():
    root = make_sandbox("ispa-corpus-")
    running = Stack.start(root)
    yield running, TreeLayer(running.apache)
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def _get(stack: Stack, name: str, path: str = "/", tls: bool = False, address: str = "127.0.0.1"):
    port = stack.apache.https_port if tls else stack.apache.http_port
    if tls:
        context = ssl.create_default_context(cafile=str(stack.pebble_root_file))
        connection = http.client.HTTPSConnection(name, port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection(name, port, timeout=10)
    connection._create_connection = lambda _hp, *args: socket.create_connection((address, port), *args)
    try:
        connection.request("GET", path, headers={"Host": name})
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        connection.close()


def _path(location: str | None) -> str | None:
    return None if location is None else re.sub(r"^https?://[^/]+", "", location)


def _port_80_names(stack: Stack) -> list[str]:
    dump = stack.apache.ctl("-S").stdout
    names = re.findall(rf"port {stack.apache.http_port} namevhost (\S+) ", dump)
    return sorted({name for name in names if "*" not in name})


def _answers(stack: Stack, names: list[str]) -> dict[str, int]:
    return {name: _get(stack, name)[0] for name in names}


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_tree(corpus_stack, case):
    stack, layer = corpus_stack
    layer.apply(case)
    transaction.reload(stack.paths)  # returns once Apache runs the new configuration
    ispa_cert = ToolRunner(stack.tool_env())
    for run in case.runs:
        _check_run(stack, ispa_cert, case, run)


def _check_run(stack: Stack, ispa_cert: ToolRunner, case, run: dict) -> None:
    apache = stack.apache
    configuration = fingerprint(apache)
    watched = run.get("only_certificate_lines_change")
    watched_before = (apache.paths.root / watched).read_text() if watched else ""
    others = _port_80_names(stack)
    before = _answers(stack, others)
    args = [substitute(arg, apache) for arg in run["args"]]
    result = ispa_cert("issue", *args, "--server-ip", "127.0.0.1", "--yes")
    said = result.stdout + result.stderr
    assert result.returncode == run["exit"], said
    assert "Traceback" not in said and "unexpected error" not in said
    for text in run.get("output", []):
        assert substitute(text, apache) in said, said
    if run["exit"] != 0:
        assert fingerprint(apache) == configuration, said  # refused or rolled back: byte-identical
        assert _answers(stack, others) == before
        return
    assert apache.ctl("configtest", check=False).returncode == 0
    if run.get("unchanged"):
        assert fingerprint(apache) == configuration, said
    names = run["names"]
    assert _answers(stack, [name for name in others if name not in names]) == \
        {name: code for name, code in before.items() if name not in names}
    for name in names:
        _check_name(stack, name, run)
    include = apache.paths.vhost_include.read_text()
    for text in run.get("include_has", []):
        assert substitute(text, apache) in include, include
    if watched:
        after = _without_our_block((apache.paths.root / watched).read_text())
        changed = [line for line in difflib.ndiff(watched_before.splitlines(), after.splitlines()) if line[:1] in "+-"]
        assert changed and [line for line in changed if "SSLCertificate" not in line] == []


def _without_our_block(text: str) -> str:
    return re.sub(r"\n?# BEGIN ispa-cert.*?# END ispa-cert\n", "", text, flags=re.DOTALL)


def _check_name(stack: Stack, name: str, run: dict) -> None:
    on_disk = certs.read_certificate(stack.paths.live(name).cert)
    for address in run.get("served_on", ["127.0.0.1"]):
        served = certs.served_certificate(address, stack.apache.https_port, name)
        assert served is not None and served.fingerprint_sha256 == on_disk.fingerprint_sha256, (name, address)
    if run.get("https_only"):  # no port-80 vhost of its own: port 80 answers with another site
        assert _get(stack, name, tls=True)[0] == 200
        return _check_body(stack, name, run)
    status, location, body = _get(stack, name, address=run.get("http_address", "127.0.0.1"))
    if location and location.startswith(f"https://{name}"):  # port 80 sends visitors to HTTPS
        secure = _get(stack, name, _path(location) or "/", tls=True)
        assert secure[0] == 200 and not (secure[1] or "").startswith(f"https://{name}"), secure[:2]
    else:
        assert _get(stack, name, tls=True) == (status, location, body) and status == 200
    for path in run.get("same_over_https", []):
        plain, secure = _get(stack, name, path), _get(stack, name, path, tls=True)
        if plain[1] and plain[1].startswith(f"https://{name}"):
            continue
        assert (secure[0], _path(secure[1])) == (plain[0], _path(plain[1])), path
        if plain[0] == 200:  # error pages name the port in their signature
            assert secure[2] == plain[2], path
    _check_body(stack, name, run)


def _check_body(stack: Stack, name: str, run: dict) -> None:
    if "body_has" in run:
        assert run["body_has"].encode() in _get(stack, name, tls=True)[2]
