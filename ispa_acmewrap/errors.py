"""The errors an admin can meet, each with its exit code and a next step.

lifecycle.run turns an IspaError into `error:` and `hint:` and the exit code `exit_code`; other
modules catch one only to record it, roll back or convert it (README, layout).
"""

from __future__ import annotations

from .i18n import _

# Exit codes (README "Exit codes"). doctor uses the monitoring-plugin codes instead.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PRECONDITION = 3
EXIT_RATE_LIMITED = 4
EXIT_LOCKED = 5
EXIT_ROLLBACK_FAILED = 6
EXIT_UNEXPECTED = 70
EXIT_INTERRUPTED = 130


class IspaError(Exception):
    """An expected failure: a message for the admin, an optional hint, an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class OperationFailed(IspaError):
    """The operation failed and what it changed was rolled back."""

    exit_code = EXIT_FAILED


class BadInput(IspaError):
    """The admin's input cannot be used; nothing was changed."""

    exit_code = EXIT_USAGE


class PreconditionMissing(IspaError):
    """Something the operation needs is missing (root, Apache, acme.sh, DNS...)."""

    exit_code = EXIT_PRECONDITION


class RateLimited(IspaError):
    """The CA would refuse (or did refuse) for now: waiting is the only cure."""

    exit_code = EXIT_RATE_LIMITED


class Locked(IspaError):
    """Another ispa-cert run holds the lock."""

    exit_code = EXIT_LOCKED


class RollbackFailed(IspaError):
    """A change failed and restoring the previous state failed too."""

    exit_code = EXIT_ROLLBACK_FAILED


class TimedOut(OperationFailed):
    """An external program did not finish within its time limit and was stopped."""

    def __init__(self, message: str, seconds: float, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.seconds = seconds


class CommandFailed(IspaError):
    """An external program failed; carries its argv, exit code and output."""

    exit_code = EXIT_FAILED

    def __init__(self, argv: list[str], returncode: int, output: str, hint: str | None = None) -> None:
        name = argv[0].rsplit("/", 1)[-1] if argv else "command"
        super().__init__(_("{program} failed with exit code {code}").format(program=name, code=returncode), hint)
        self.argv = argv
        self.returncode = returncode
        self.output = output
