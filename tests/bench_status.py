"""Benchmark: wall time of `ispa-cert status` with 3 certificates and of `ispa-cert doctor --offline`.

Starts the real stack (Pebble, pebble-challtestsrv, a sandbox Apache), issues 3 certificates once
(about 20 s, not measured), then runs each command `runs` times as a subprocess of the installed
ispa-cert and reports the median in seconds. Stops everything it started.

    from tests.bench_status import bench_status_doctor
    bench_status_doctor()   # {'status_3_certificates': 0.29, 'doctor_offline': 0.58}

or `python -m tests.bench_status`.
"""

from __future__ import annotations

import shutil
import statistics
import time

from tests.conftest import ToolRunner
from tests.stack import Stack, make_sandbox

NAMES = {"admin": "admin.ispa.test", "client": "portal.ispa.test", "dealer": "dealer.ispa.test"}


def bench_status_doctor(runs: int = 5) -> dict[str, float]:
    """Median wall time (seconds) of `status` (3 certificates) and `doctor --offline`."""
    root = make_sandbox("ispa-bench-")
    stack = Stack.start(root)
    try:
        tool = ToolRunner(stack.tool_env())
        _issue_three(tool)
        return {"status_3_certificates": _median(tool, ("status",), runs),
                "doctor_offline": _median(tool, ("doctor", "--offline"), runs)}
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def _issue_three(tool: ToolRunner) -> None:
    result = tool("issue", "-a", "-c", "-d", *(f"--{role}-domain={name}" for role, name in NAMES.items()),
                  "--server-ip", "127.0.0.1", "--yes")
    if result.returncode != 0:
        raise RuntimeError(f"issuing the benchmark's certificates failed:\n{result.stdout}{result.stderr}")


def _median(tool: ToolRunner, args: tuple[str, ...], runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = tool(*args)
        timings.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise RuntimeError(f"ispa-cert {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return statistics.median(timings)


if __name__ == "__main__":
    for label, seconds in bench_status_doctor().items():
        print(f"{label}: {seconds:.3f} s (median of 5)")
