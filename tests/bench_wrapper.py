"""Benchmark: what the wrapper costs beside raw acme.sh doing the same certificates.

On the sandbox stack (Pebble, pebble-challtestsrv, Apache), each run starts from a fresh sandbox and measures
side by side:

- `ispa-cert issue` for 2 names (acme.sh installed beforehand, not timed) against raw acme.sh as the
  guide runs it: `--issue --apache` per name, `--install-cert` (whose reload command reloads Apache);
- `ispa-cert renew --force` against `acme.sh --renew --force` per name.

It prints the medians, their ratio and where ispa-cert's time goes per step (the `step:` lines and the
`… exited N after S s` lines of ispa-cert's log): how much of each step is acme.sh, apache2ctl / a2enmod,
and ispa-cert's own work (DNS, self-test, TLS verify, file writes). No test asserts a timing.

    python -m tests.bench_wrapper
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ispa_acmewrap import acme
from ispa_acmewrap.command import Command
from tests.conftest import ToolRunner
from tests.stack import Stack, make_sandbox

NAMES = {"admin": "admin.ispa.test", "client": "portal.ispa.test"}
RUNS = 5  # acme.sh's own time moves by ±10 % between runs: the medians need a few

_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \d+ \w+ [\w.]+: (?P<message>.*)$")
_STEP = re.compile(r"^step: (?P<step>.*)$")
_EXITED = re.compile(r"^(?P<program>\S+) exited -?\d+ after (?P<seconds>[\d.]+) s$")


@dataclass
class Phase:
    step: str
    seconds: float = 0.0
    programs: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def own(self) -> float:
        return max(self.seconds - sum(self.programs.values()), 0.0)


def phases(log_text: str, ended_at: float) -> list[Phase]:
    """The steps of one ispa-cert run, from its log: wall time of each and the programs it ran.
    `ended_at` (epoch seconds) closes the last step."""
    found: list[Phase] = []
    start = last = None
    before_steps = Phase("(start-up, names, lock)")  # also what runs before the first step (apache2ctl)
    for line in log_text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        start = at if start is None else start
        if step := _STEP.match(match["message"]):
            if found:
                found[-1].seconds = at - last
            elif at > start:
                before_steps.seconds = at - start
                found.append(before_steps)
            found.append(Phase(_short(step["step"])))
            last = at
        elif exited := _EXITED.match(match["message"]):
            (found[-1] if found else before_steps).programs[_program(exited["program"])] += float(exited["seconds"])
        if found and last is not None:
            found[-1].seconds = at - last
    if found and last is not None:
        found[-1].seconds = ended_at - last
    return found


def _short(step: str) -> str:
    step = re.sub(r"\S+\.ispa\.test", "NAME", step)
    return step if len(step) <= 60 else step[:57] + "..."


def _program(path: str) -> str:
    name = Path(path).name
    return "acme.sh" if name == "acme.sh" else ("apache" if name.startswith(("apache2", "a2en", "a2dis")) else name)


def _run(command: Command) -> None:
    result = subprocess.run(command.argv, env={**os.environ, **command.env}, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command.argv[:3])} … exited {result.returncode}:\n{result.stdout[-3000:]}")


def _apache_mode(command: Command) -> Command:
    """The guide's way of issuing: acme.sh --issue --apache (ispa-cert validates through its webroot)."""
    argv = list(command.argv)
    at = argv.index("--webroot")
    return Command([*argv[:at], "--apache", *argv[at + 2:]], command.env)


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def raw_acme(stack: Stack) -> tuple[float, float]:
    """Seconds of raw acme.sh issuing + installing the 2 names, and of renewing them with --force."""
    paths = stack.paths
    server, bundle = stack.pebble.directory_url, stack.pebble.api_ca.ca_cert
    main_config = paths.apache_main_config.read_bytes()

    def issue() -> None:
        for name in NAMES.values():
            _run(_apache_mode(acme.issue_command(paths, name, server, bundle)))
            paths.live(name).directory.mkdir(parents=True, exist_ok=True)
            _run(acme.install_cert_command(paths, name))

    def renew() -> None:
        for name in NAMES.values():
            _run(acme.renew_command(paths, name, force=True))

    issued = _timed(issue)
    # acme.sh leaves its Alias in the main config when told the file's path: put it back, untimed.
    paths.apache_main_config.write_bytes(main_config)
    renewed = _timed(renew)
    paths.apache_main_config.write_bytes(main_config)
    return issued, renewed


def wrapped(stack: Stack) -> tuple[float, float, list[Phase], list[Phase]]:
    tool = ToolRunner(stack.tool_env())
    log_file = stack.paths.log_file
    args = [f"--{role}-domain={name}" for role, name in NAMES.items()]

    def checked(*command: str) -> None:
        result = tool(*command)
        if result.returncode != 0:
            raise RuntimeError(f"ispa-cert {' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}")

    def timed_with_log(*command: str) -> tuple[float, list[Phase]]:
        offset = log_file.stat().st_size if log_file.exists() else 0
        seconds = _timed(lambda: checked(*command))
        return seconds, phases(log_file.read_bytes()[offset:].decode(errors="replace"), time.time())

    issued, issue_phases = timed_with_log("issue", "-a", "-c", *args, "--server-ip", "127.0.0.1", "--yes")
    renewed, renew_phases = timed_with_log("renew", "--force")
    return issued, renewed, issue_phases, renew_phases


def acme_seconds(steps: list[Phase]) -> float:
    """How long acme.sh itself ran during one ispa-cert run: runs side by side (issue's --install-cert
    per name) count once, by the wall time of their step."""
    return sum(min(step.programs.get("acme.sh", 0.0), step.seconds) for step in steps)


def _on_fresh_stack(body):
    root = make_sandbox("ispa-bench-")
    stack = Stack.start(root)
    try:
        ToolRunner(stack.tool_env())("install")
        return body(stack)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def bench_wrapper(runs: int = RUNS) -> dict:
    raw_issue, raw_renew, tool_issue, tool_renew, runs_phases = [], [], [], [], []
    for number in range(runs):
        # raw first in even runs, ispa-cert first in odd ones: a host slowing down or speeding up
        # over the minutes of a run then favours neither side
        if number % 2:
            tool = _on_fresh_stack(wrapped)
            raw = _on_fresh_stack(raw_acme)
        else:
            raw = _on_fresh_stack(raw_acme)
            tool = _on_fresh_stack(wrapped)
        raw_issue.append(raw[0])
        raw_renew.append(raw[1])
        issued, renewed, issue_phases, renew_phases = tool
        tool_issue.append(issued)
        tool_renew.append(renewed)
        runs_phases.append((issued, issue_phases, renew_phases, renewed))
    median_run = sorted(runs_phases, key=lambda run: run[0])[len(runs_phases) // 2]
    return {"raw_issue": statistics.median(raw_issue), "raw_renew": statistics.median(raw_renew),
            "issue": statistics.median(tool_issue), "renew": statistics.median(tool_renew),
            "issue_phases": median_run[1], "renew_phases": median_run[2],
            "issue_own": statistics.median(wall - acme_seconds(steps) for wall, steps, _, _ in runs_phases),
            "renew_own": statistics.median(wall - acme_seconds(steps) for _, _, steps, wall in runs_phases),
            "runs": list(zip(tool_issue, raw_issue, tool_renew, raw_renew))}


def report(result: dict, runs: int = RUNS) -> str:
    lines = [f"wrapper cost: 2 names, median of {runs} runs, each on a fresh sandbox"]
    for label, ours, raw in (("issue", result["issue"], result["raw_issue"]),
                             ("renew --force", result["renew"], result["raw_renew"])):
        lines.append(f"  ispa-cert {label:<14}{ours:6.2f} s   raw acme.sh {raw:6.2f} s   "
                     f"ratio {ours / raw:.2f} (target <= 1.05)")
    for label, own, raw in (("issue", result.get("issue_own"), result["raw_issue"]),
                            ("renew --force", result.get("renew_own"), result["raw_renew"])):
        if own is not None:  # acme.sh's own time varies more between runs than the wrapper costs
            lines.append(f"  ispa-cert {label:<14}own work (its wall time less acme.sh's inside it) {own:5.2f} s "
                         f"= {own / raw:.1%} of raw acme.sh")
    lines.append("  each run (ispa-cert / raw acme.sh): the spread shows how much the machine's load moves acme.sh")
    for number, (issue, raw_issue, renew, raw_renew) in enumerate(result.get("runs", []), 1):
        lines.append(f"    run {number}: issue {issue:6.2f} / {raw_issue:6.2f} s = {issue / raw_issue:.2f}   "
                     f"renew --force {renew:6.2f} / {raw_renew:6.2f} s = {renew / raw_renew:.2f}")
    if result.get("runs"):  # each run's pair ran back to back: their ratio is blind to the host's drift
        paired = [statistics.median(ours / raw for ours, raw in pairs)
                  for pairs in ([run[0:2] for run in result["runs"]], [run[2:4] for run in result["runs"]])]
        lines.append(f"    median of the runs' ratios: issue {paired[0]:.2f}, renew --force {paired[1]:.2f}")
    for label, key in (("issue", "issue_phases"), ("renew --force", "renew_phases")):
        lines.append(f"  where ispa-cert {label}'s time goes (the median run):")
        lines.append(f"    {'step':<62}{'total':>7}{'acme.sh':>9}{'apache':>8}{'own':>7}")
        for phase in result[key]:
            lines.append(f"    {phase.step:<62}{phase.seconds:7.2f}{phase.programs.get('acme.sh', 0):9.2f}"
                         f"{phase.programs.get('apache', 0):8.2f}{phase.own:7.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(bench_wrapper()))
