"""Benchmark: wall time of `ispa-cert status` with 3 certificates and of `ispa-cert doctor --offline`,
and of `certbot certificates` listing the same 3 certificates (tests/bench_certbot.py).

Starts the real stack (Pebble, pebble-challtestsrv, a sandbox Apache), issues 3 certificates once
(about 20 s, not measured), then runs each command `runs` times as a subprocess and reports the
median in seconds. Stops everything it started.

    from tests.bench_status import bench_status_doctor
    bench_status_doctor()   # {'status_3_certificates': 0.29, 'certbot_certificates': 0.9, 'doctor_offline': 0.58}

or `python -m tests.bench_status`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.bench import median_seconds
from tests.bench_certbot import certbot_config, certbot_executable
from tests.conftest import ToolRunner
from tests.stack import Stack, make_sandbox

NAMES = {"admin": "admin.ispa.test", "client": "portal.ispa.test", "dealer": "dealer.ispa.test"}


def bench_status_doctor(runs: int = 5) -> dict[str, float]:
    """Median wall time (seconds) of `status` (3 certificates) and `doctor --offline`."""
    root = make_sandbox("ispa-bench-")
    stack = Stack.start(root)
    try:
        tool = ToolRunner(stack.tool_env())
        _issue_three(tool, stack)
        live = {name: stack.paths.live(name) for name in NAMES.values()}
        options = certbot_config(root / "certbot", {name: (files.cert, files.key, files.fullchain)
                                                    for name, files in live.items()}, stack.pebble.directory_url)
        certbot = [str(certbot_executable()), "certificates", *options]
        return {"status_3_certificates": median_seconds(lambda: _succeeds(tool, "status"), runs),
                "status_floor_imports": median_seconds(_import_floor, runs),
                "certbot_certificates": median_seconds(lambda: _checked(certbot), runs),
                "doctor_offline": median_seconds(lambda: _succeeds(tool, "doctor", "--offline"), runs)}
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


# What `status` cannot go below while it keeps its fixed libraries: a Python that imports the CLI
# framework, the process runner (apache2ctl -S) and the X.509 reader, and does nothing else.
FLOOR = "import typer, sh, cryptography.x509"


def _import_floor() -> None:
    subprocess.run([sys.executable, "-c", FLOOR], check=True, stdin=subprocess.DEVNULL)


def _issue_three(tool: ToolRunner, stack: Stack) -> None:
    dealer_site = stack.root / "srv" / "dealer"  # the dealer has no vhost of its own: a document root
    dealer_site.mkdir(parents=True, exist_ok=True)
    (dealer_site / "index.html").write_text("<h1>dealer portal</h1>\n")
    result = tool("issue", "-a", "-c", "-d", *(f"--{role}-domain={name}" for role, name in NAMES.items()),
                  "--dealer-docroot", str(dealer_site), "--server-ip", "127.0.0.1", "--yes")
    if result.returncode != 0:
        raise RuntimeError(f"issuing the benchmark's certificates failed:\n{result.stdout}{result.stderr}")


def _checked(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or "Certificate Name" not in result.stdout:
        raise RuntimeError(f"{' '.join(argv[:2])} exited {result.returncode}:\n{result.stdout}{result.stderr}")


def _succeeds(tool: ToolRunner, *args: str) -> None:
    result = tool(*args)
    if result.returncode != 0:
        raise RuntimeError(f"ispa-cert {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")


if __name__ == "__main__":
    for label, seconds in bench_status_doctor().items():
        print(f"{label}: {seconds:.3f} s (median of 5)")
