"""`make bench`: what the speed targets are measured by (no test asserts a timing).

- `ispa-cert --help` start-up time (it must stay fast: cron and monitoring call the tool often),
  beside `certbot --help` (target <= 0.2; certbot in a private venv, tests/bench_certbot.py);
- the DNS check of 3 names against a dead resolver, as a ratio to the configured
  timeout (target ≤ 1.2: the names are checked in parallel), and against a local DNS server;
- `status` for 3 certificates and `doctor --offline` (interactive speed); `status` beside
  `certbot certificates` listing the same 3 certificates (target <= 0.5);
- the wrapper's cost: `issue` and `renew --force` beside raw acme.sh doing the same (tests/bench_wrapper.py).
"""

from __future__ import annotations

import compileall
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path

from ispa_acmewrap import dns
from tests.bench_certbot import certbot_executable
from tests.conftest import ispa_cert_executable
from tests.stack import ChallTestSrv, make_sandbox

NAMES = ["admin.ispa.test", "portal.ispa.test", "dealer.ispa.test"]
RUNS = 5


def median_seconds(action, runs: int = RUNS) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bench_help() -> None:
    ours = median_seconds(lambda: subprocess.run([ispa_cert_executable(), "--help"], capture_output=True, check=True))
    certbot = str(certbot_executable())
    theirs = median_seconds(lambda: subprocess.run([certbot, "--help"], capture_output=True, check=True))
    print(f"ispa-cert --help                                   {ours * 1000:7.0f} ms (median of {RUNS})")
    print(f"certbot --help                                     {theirs * 1000:7.0f} ms   "
          f"ratio {ours / theirs:.2f} (target <= 0.2)")


def bench_dns_dead_resolver(timeout: float = 1.0) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        server = f"127.0.0.1:{black_hole.getsockname()[1]}"
        seconds = median_seconds(lambda: dns.check_names(NAMES, server_addresses={"127.0.0.1"}, nameserver=server,
                                                         timeout=timeout), runs=3)
    print(f"DNS check, 3 names, dead resolver, timeout {timeout:.1f} s  {seconds:7.2f} s  "
          f"ratio {seconds / timeout:.2f} (target <= 1.2)")


def bench_dns_local_server() -> None:
    root = make_sandbox("ispa-bench-")
    server = ChallTestSrv(root / "dns").start()
    try:
        seconds = median_seconds(lambda: dns.check_names(NAMES, server_addresses={"127.0.0.1"},
                                                         nameserver=server.dns_server, timeout=2.0))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"DNS check, 3 names, local DNS server               {seconds * 1000:7.0f} ms (median of {RUNS})")


def bench_status_and_doctor() -> None:
    try:
        from tests.bench_status import bench_status_doctor
    except ImportError:
        print("status / doctor benchmark: not available")
        return
    timings = bench_status_doctor()
    for label, seconds in timings.items():
        print(f"{label:<51}{seconds * 1000:7.0f} ms")
    print(f"{'status / certbot certificates':<51}  ratio {timings['status_3_certificates'] / timings['certbot_certificates']:.2f}"
          " (target <= 0.5)")
    print(f"{'  floor: importing typer, sh, cryptography.x509':<51}  ratio "
          f"{timings['status_floor_imports'] / timings['certbot_certificates']:.2f} of certbot certificates")


def bench_wrapper_cost() -> None:
    from tests.bench_wrapper import bench_wrapper, report

    print(report(bench_wrapper()))


def main() -> None:
    # An installed ispa-cert runs from compiled bytecode (pip compiles at install time), as certbot
    # does from its venv; the checkout's editable install would otherwise compile every module
    # on every run where PYTHONDONTWRITEBYTECODE is set.
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "ispa_acmewrap", quiet=1)
    print(f"benchmarks on {socket.gethostname()} ({Path('/proc/cpuinfo').read_text().count('processor')} cores)")
    bench_help()
    bench_dns_dead_resolver()
    bench_dns_local_server()
    bench_status_and_doctor()
    bench_wrapper_cost()


if __name__ == "__main__":
    main()
