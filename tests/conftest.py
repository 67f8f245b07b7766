"""Shared fixtures. The real stack (tests/stack.py) is started by the tests that need it
and stopped by PID afterwards; a stack that cannot start fails the test loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Messages follow the locale (ispa_acmewrap/i18n.py): the tests read English whatever the developer's
# terminal speaks; the tests of the Czech messages set the language they mean.
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"

from ispa_acmewrap.paths import Paths  # noqa: E402 - after the language is fixed
from tests.stack import ChallTestSrv, SandboxApache, Stack, make_sandbox  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def ispa_cert_executable() -> str:
    """The development console script (make dev puts it into .venv/bin)."""
    candidate = Path(sys.executable).parent / "ispa-cert"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ispa-cert")
    if found is None:
        raise RuntimeError("ispa-cert is not installed: run `make dev`")
    return found


@pytest.fixture
def sandbox_root():
    """An empty sandbox root that Apache's user can traverse; removed afterwards."""
    root = make_sandbox()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox_paths(sandbox_root: Path) -> Paths:
    return Paths.from_root(sandbox_root)


@pytest.fixture(scope="session")
def dns_server(tmp_path_factory):
    """pebble-challtestsrv on loopback; answers every name with 127.0.0.1 unless told otherwise."""
    server = ChallTestSrv(tmp_path_factory.mktemp("challtestsrv")).start()
    yield server
    server.stop()


@pytest.fixture
def apache(sandbox_paths: Paths):
    """A running sandbox Apache that looks like an ISPadmin server (no certificates yet)."""
    instance = SandboxApache(sandbox_paths).create().start()
    yield instance
    instance.stop()


@pytest.fixture
def stack(sandbox_root: Path):
    """Pebble + pebble-challtestsrv + sandbox Apache, all on loopback."""
    running = Stack.start(sandbox_root)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def module_stack():
    """One stack shared by every test of a module, in its own sandbox; removed afterwards."""
    root = make_sandbox()
    running = Stack.start(root)
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


class ToolRunner:
    """Runs the installed `ispa-cert` as a subprocess with a given environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None, timeout: float = 300, extra_env=None):
        env = {**os.environ, **self.env, **(extra_env or {})}
        return subprocess.run([ispa_cert_executable(), *args], env=env, input=input,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)


@pytest.fixture
def ispa_cert(stack: Stack) -> ToolRunner:
    return ToolRunner(stack.tool_env())
