"""runner.py's supervisor: runs one program and takes its whole process group down with ispa-cert.

    python -I -S supervise.py PARENT_PID LOCK_FD GRACE_SECONDS -- PROGRAM [ARG...]

runner.run starts this (standard library only, so it starts fast) as the leader of a new
process group while a run holds the lock. It asks the kernel for SIGTERM when ispa-cert
dies (PR_SET_PDEATHSIG: also after a SIGKILL), runs PROGRAM in its own group and waits.
On SIGTERM, SIGINT or SIGHUP it sends SIGTERM to the whole group (acme.sh, its curl,
apache2ctl), waits GRACE_SECONDS, then SIGKILLs the group and itself with it. It keeps
the run's locked descriptor LOCK_FD open until then, so the lock stays held while any
child of the run lives; PROGRAM itself does not get the descriptor (an Apache that a
reload happens to start must not hold the lock for ever). The exit status is PROGRAM's,
or 128 + the signal that ended it.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def main(arguments: list[str]) -> int:
    parent, lock_fd, grace = int(arguments[0]), int(arguments[1]), float(arguments[2])
    argv = arguments[4:]
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {signal.SIGCHLD})
    if parent:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if lock_fd >= 0:
        os.set_inheritable(lock_fd, False)
    child = os.fork()
    if child == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        try:
            os.execvp(argv[0], argv)
        except OSError as error:
            os.write(2, f"{argv[0]}: {error.strerror}\n".encode())
        os._exit(127)
    if parent and os.getppid() != parent:  # ispa-cert died before the kernel was asked to tell us
        stop_group(child, grace)
    while True:
        received = signal.sigwaitinfo(STOP_SIGNALS | {signal.SIGCHLD})
        if received.si_signo != signal.SIGCHLD:
            stop_group(child, grace)
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def stop_group(child: int, grace: float) -> None:
    """SIGTERM to the whole group (our own copy stays blocked), then SIGKILL to it and to us."""
    os.killpg(0, signal.SIGTERM)
    remaining = grace
    while remaining > 0:
        if signal.sigtimedwait({signal.SIGCHLD}, min(remaining, 0.1)) and os.waitpid(child, os.WNOHANG)[0]:
            break
        remaining -= 0.1
    os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
